-- milter_sign.lua - have a real OpenDKIM (milter, signing mode) sign every
-- message listed in LIST (lines "PATH<TAB>MAILFROM") and echo one line
-- "SIG PATH VALUE" per message (LF folds written as "\n"), for
-- milter_lib.py corpus.  One miltertest run signs the whole corpus, a
-- milter connection per message, as an MTA would.
-- Globals (-D): SCRIPTDIR (tests/integration/milter, for common.lua),
-- SOCKET, LIST.  Any failure ends the run with status 1.
dofile(SCRIPTDIR .. "/common.lua")

IP = "127.0.0.1"
HELO = "signer.bench.test"
RCPT = "rcpt@bench.example"

run(function()
	for line in io.lines(LIST) do
		local path, from = line:match("^([^\t]+)\t(.+)$")
		check(path ~= nil, "list line: " .. line)
		MSG = path
		MAILFROM = "<" .. from .. ">"
		local conn = open_conn()
		check(send_message(conn), "opendkim took " .. path)
		finish(conn)
		local sig = mt.getheader(conn, "DKIM-Signature", 0)
		check(sig ~= nil, "opendkim signed " .. path .. " (reply " ..
		    tostring(mt.getreply(conn)) .. ")")
		mt.echo("SIG " .. path .. " " .. sig:gsub("\n", "\\n"))
		mt.disconnect(conn)
	end
end)
