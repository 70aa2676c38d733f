-- skipped.lua - a trusted peer (at connect) or an SMTP AUTH submission
-- (at MAIL, AUTHEN set): the milter accepts at once and changes nothing.
dofile(SCRIPTDIR .. "/common.lua")

run(function()
	local conn = open_conn()
	check(not send_message(conn), "accepted before the message")
	check(mt.getreply(conn) == SMFIR_ACCEPT, "accept, got " ..
	    tostring(mt.getreply(conn)))
	mt.echo("SKIPPED")
	mt.disconnect(conn)
end)
