package remote

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestClientCommand(t *testing.T) {
	tests := []struct{ transport, pw, want string }{
		{"npipe:pipe=livedebug", "pw", "kd -remote npipe:server=HOST,pipe=livedebug,password=pw"},
		{"npipe:pipe=livedebug,hidden,IcfEnable", "pw", "kd -remote npipe:server=HOST,pipe=livedebug,password=pw"},
		{"tcp:port=5005,ipversion=6", "", "kd -remote tcp:server=HOST,port=5005"},
		{"spipe:proto=tls,certuser=me,pipe=p", "x", "kd -remote spipe:server=HOST,proto=tls,certuser=me,pipe=p,password=x"},
	}
	for _, tt := range tests {
		if got := ClientCommand(tt.transport, tt.pw, "HOST"); got != tt.want {
			t.Errorf("ClientCommand(%q) = %q, want %q", tt.transport, got, tt.want)
		}
	}
	if got := ServerTransport("npipe:pipe=a", "pw"); got != "npipe:pipe=a,password=pw" {
		t.Errorf("ServerTransport = %q", got)
	}
	if got := Param("npipe:pipe=livedebug,hidden", "PIPE"); got != "livedebug" {
		t.Errorf("Param = %q", got)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		p, err := NewPassword(24)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 24 || strings.ContainsAny(p, ",=\" ") || seen[p] {
			t.Fatalf("bad or repeated password %q", p)
		}
		seen[p] = true
	}
}

func TestWriteClientFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "remote.txt")
	if err := WriteClientFile(p, "kd -remote npipe:server=h,pipe=p,password=x"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), "password=x") {
		t.Errorf("content %q", b)
	}
	if err := WriteClientFile(filepath.Join("/proc", "nope", "x.txt"), "x"); err == nil {
		t.Errorf("no error for an unwritable folder")
	}
}
