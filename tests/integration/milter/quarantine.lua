-- quarantine.lua - DMARC fail with p=quarantine and dmarc_reject = reject
-- or quarantine: stamped, quarantined, continue (no reply code).
dofile(SCRIPTDIR .. "/common.lua")

run(function()
	local conn = open_conn()
	check(send_message(conn), "message taken")
	finish(conn)
	check(mt.getreply(conn) == SMFIR_CONTINUE, "continue at EOM, got " ..
	    tostring(mt.getreply(conn)))
	check(mt.eom_check(conn, MT_QUARANTINE), "quarantined")
	ar(conn)
	mt.disconnect(conn)
end)
