-- accept.lua - the message is stamped and passed on: continue at EOM,
-- one Authentication-Results inserted at the top (index 0), no reply
-- code (the EOM reply is continue), no quarantine.  FORGED=1: an A-R field was deleted too; without
-- it, none was.  Echoes "AR:<value>" for the Python side.
dofile(SCRIPTDIR .. "/common.lua")

run(function()
	local conn = open_conn()
	check(mt.test_option(conn, SMFIP_HDR_LEADSPC), "SMFIP_HDR_LEADSPC asked for")
	check(send_message(conn), "message taken")
	finish(conn)
	check(mt.getreply(conn) == SMFIR_CONTINUE, "reply to EOM is continue, got " ..
	    tostring(mt.getreply(conn)))
	local v = ar(conn)
	check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", v, 0),
	    "inserted at index 0")
	check(not mt.eom_check(conn, MT_QUARANTINE), "not quarantined")
	if FORGED ~= nil then
		check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"),
		    "the forged Authentication-Results was deleted")
	else
		check(not mt.eom_check(conn, MT_HDRDELETE), "nothing deleted")
	end
	mt.disconnect(conn)
end)
