-- tempfail.lua - DMARC temperror (DNS failure) with temperror = tempfail:
-- the milter answers 451 4.7.5 at EOM and adds no header.
-- TEXT (-D): the reply text expected (miltertest compares code, status
-- and text together).
dofile(SCRIPTDIR .. "/common.lua")

run(function()
	local conn = open_conn()
	check(send_message(conn), "message taken")
	finish(conn)
	check(mt.getreply(conn) == SMFIR_REPLYCODE, "a reply code at EOM, got " ..
	    tostring(mt.getreply(conn)))
	check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.5", TEXT),
	    "451 4.7.5 " .. TEXT)
	check(not mt.eom_check(conn, MT_HDRINSERT), "no header inserted")
	mt.echo("REPLY:451 4.7.5")
	mt.disconnect(conn)
end)
