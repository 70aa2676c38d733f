-- sign.lua - have a real OpenDKIM (milter, signing mode) sign MSG, and
-- echo its DKIM-Signature value as "SIG:<value>" (LF folds as "\n").
-- Globals (-D): SOCKET, MSG, IP, HELO, MAILFROM, RCPT.
dofile(SCRIPTDIR .. "/common.lua")

run(function()
	local conn = open_conn()
	check(send_message(conn), "opendkim took the message")
	finish(conn)
	local sig = mt.getheader(conn, "DKIM-Signature", 0)
	check(sig ~= nil, "opendkim added a DKIM-Signature (reply " ..
	    tostring(mt.getreply(conn)) .. ")")
	mt.echo("SIG:" .. sig:gsub("\n", "\\n"))
	mt.disconnect(conn)
end)
