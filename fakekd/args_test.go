package fakekd

import (
	"testing"
)

func TestParseCmdLine(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    CmdLine
		wantErr string
	}{
		{"batch file", []string{"-server", "npipe:pipe=livedebug"}, CmdLine{Server: "npipe:pipe=livedebug"}, ""},
		{"server and -k", []string{"-server", "npipe:pipe=x", "-k", "com:port=com1,baud=19200"},
			CmdLine{Server: "npipe:pipe=x", Kernel: "com:port=com1,baud=19200"}, ""},
		{"slash form", []string{"/server", "npipe:pipe=x"}, CmdLine{Server: "npipe:pipe=x"}, ""},
		{"server not first", []string{"-k", "net:port=50000,key=1.2.3.4", "-server", "npipe:pipe=x"}, CmdLine{}, "-server must be the first argument"},
		{"server without value", []string{"-server"}, CmdLine{}, "-server requires a transport argument"},
		{"remote unsupported", []string{"-remote", "npipe:server=.,pipe=x"}, CmdLine{}, "-remote is not supported by fakekd"},
		{"-server is case-sensitive", []string{"-k", "com:port=com1", "-SERVER", "x"}, CmdLine{Kernel: "com:port=com1"}, ""},
		{"values are not options", []string{"-y", "srv*c:\\sym", "-c", "-k", "-bonc"}, CmdLine{SymbolPath: "srv*c:\\sym", BreakOnConnect: true}, ""},
		{"bare -k", []string{"-k", "-n"}, CmdLine{}, ""},
		{"logo", []string{"-logo", "c:\\x.log"}, CmdLine{LogFile: "c:\\x.log"}, ""},
		{"loga", []string{"-loga", "c:\\x.log"}, CmdLine{LogFile: "c:\\x.log", LogAppend: true}, ""},
		{"missing value", []string{"-y"}, CmdLine{}, "-y requires an argument"},
		{"ignored options", []string{"-b", "-d", "-v", "-kqm", "stray"}, CmdLine{BreakOnConnect: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmdLine(tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseTransport(t *testing.T) {
	noEnv := func(string) string { return "" }
	env := map[string]string{"_NT_DEBUG_PORT": "com3", "_NT_DEBUG_BAUD_RATE": "115200"}
	tests := []struct {
		conn   string
		getenv func(string) string
		want   Transport
	}{
		{"com:port=com1,baud=19200", noEnv, Transport{Kind: "com", Device: `\\.\com1`, Baud: "19200"}},
		{`com:port=\\.\com2,baud=115200`, noEnv, Transport{Kind: "com", Device: `\\.\com2`, Baud: "115200"}},
		{`com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`, noEnv, Transport{Kind: "pipe", Device: `\\.\pipe\com_1`}},
		{"net:port=50000,key=1.2.3.4", noEnv, Transport{Kind: "net", Device: "50000", Key: "1.2.3.4"}},
		{"NET:Port=50001,Key=a.b.c.d,target=10.0.0.2", noEnv, Transport{Kind: "net", Device: "50001", Key: "a.b.c.d"}},
		{"usb:targetname=box", noEnv, Transport{Kind: "usb", Device: "box"}},
		{"", noEnv, Transport{Kind: "com", Device: `\\.\com1`, Baud: "19200"}},
		{"", func(k string) string { return env[k] }, Transport{Kind: "com", Device: `\\.\com3`, Baud: "115200"}},
	}
	for _, tt := range tests {
		if got := ParseTransport(tt.conn, tt.getenv); got != tt.want {
			t.Errorf("ParseTransport(%q) = %+v, want %+v", tt.conn, got, tt.want)
		}
	}
}

func TestRemoteLine(t *testing.T) {
	tests := []struct {
		server string
		echo   bool
		want   string
	}{
		// kd-protocol.md "Remote server transports".
		{"npipe:pipe=livedebug", false, "0: <debugger> -remote npipe:Pipe=livedebug,Server=BOX"},
		{"tcp:port=5005", false, "0: <debugger> -remote tcp:Port=5005,Server=BOX"},
		{"npipe:pipe=livedebug,password=hunter2", false, "0: <debugger> -remote npipe:Pipe=livedebug,Server=BOX"},
		{"npipe:pipe=x,hidden,password=p", false, "0: <debugger> -remote npipe:Pipe=x,hidden,Server=BOX"},
		{"npipe:pipe=livedebug,password=hunter2", true, "0: <debugger> -remote npipe:pipe=livedebug,password=hunter2,Server=BOX"},
	}
	for _, tt := range tests {
		if got := remoteLine(tt.server, "BOX", tt.echo); got != tt.want {
			t.Errorf("remoteLine(%q, %v) = %q, want %q", tt.server, tt.echo, got, tt.want)
		}
	}
}
