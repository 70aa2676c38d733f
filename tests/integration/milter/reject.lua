-- reject.lua - DMARC fail with p=reject and dmarc_reject = reject: the
-- milter answers 550 5.7.1 at EOM and adds no header.
-- TEXT (-D): the reply text expected (miltertest compares code, status
-- and text together).
dofile(SCRIPTDIR .. "/common.lua")

run(function()
	local conn = open_conn()
	check(send_message(conn), "message taken")
	finish(conn)
	check(mt.getreply(conn) == SMFIR_REPLYCODE, "a reply code at EOM, got " ..
	    tostring(mt.getreply(conn)))
	check(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", TEXT),
	    "550 5.7.1 " .. TEXT)
	check(not mt.eom_check(conn, MT_HDRINSERT), "no header inserted")
	mt.echo("REPLY:550 5.7.1")
	mt.disconnect(conn)
end)
