package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/outfile"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/script"
	"github.com/kdlaunch/kdlaunch/targetsetup"
)

// TargetSetupCmd is `kdlaunch target-setup`: the script that prepares the
// target to match the host's configuration.
type TargetSetupCmd struct {
	Config      string          `help:"Lab file that run uses (TOML); the script matches its [target] section. Flags override it." placeholder:"FILE"`
	Port        string          `help:"Serial port of the target connection, e.g. com1 (with --baud), as for run." placeholder:"COMn"`
	Baud        int             `help:"Baud rate for --port (default 19200, as for run)." placeholder:"N"`
	Connect     string          `help:"kd -k connection string, as for run: com:port=com1,baud=115200, net:port=N,key=K, usb:targetname=T or com:pipe,port=\\\\.\\pipe\\NAME." placeholder:"STRING"`
	HostIP      string          `name:"host-ip" help:"IPv4 address of this host, which a KDNET (net:) target connects to." placeholder:"IP"`
	Tag         string          `help:"Pool tag to put in special pool (PoolTag); with --strategy pool-hit-tag nothing is set on the target." placeholder:"TAG"`
	Strategy    script.Strategy `help:"special-pool (default: PoolTag in the registry, one reboot), leaks (the same PoolTag) or pool-hit-tag (kd sets nt!PoolHitTag; nothing for the tag on the target)." placeholder:"NAME"`
	Format      string          `help:"Script language: cmd or powershell." enum:"cmd,powershell" default:"cmd"`
	Legacy      bool            `help:"Give the boot.ini entry (/debug /debugport=COMn /baudrate=RATE) for Windows NT 4.0 to Server 2003 instead of bcdedit."`
	Underruns   bool            `help:"Set PoolTagOverruns to 0 (catch underruns) instead of 1 (overruns, Windows' default)."`
	Output      string          `short:"o" help:"Write the script to FILE (CRLF line ends; mode 0600 when it holds the KDNET key) instead of printing it." placeholder:"FILE"`
	WriteConfig string          `name:"write-config" help:"Also write these settings as a config file that run reads (the [target] section); an existing file is never overwritten." placeholder:"FILE"`
}

// Run prints or writes the target-side script.
func (c *TargetSetupCmd) Run(s streams) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	opts := targetsetup.Options{
		Connection: cfg.Target.Connection,
		Key:        cfg.Target.Key,
		HostIP:     cfg.Target.HostIP,
		Tag:        cfg.Target.Tag,
		Strategy:   cfg.Target.Strategy,
		Legacy:     c.Legacy,
		Underruns:  c.Underruns,
	}
	text, err := opts.Script(c.Format)
	if err != nil {
		return fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	holdsKey := opts.HoldsKey()

	// Check both files first, so that a bad -o does not leave a new
	// config behind (nor a bad --write-config a new script).
	if c.Output != "" {
		if err := checkTarget(c.Output, true, c.Config); err != nil {
			return fmt.Errorf("-o %s: %w", c.Output, err)
		}
	}
	if c.WriteConfig != "" {
		if err := checkTarget(c.WriteConfig, false, c.Config); err != nil {
			return fmt.Errorf("--write-config %s: %w", c.WriteConfig, err)
		}
	}

	if c.WriteConfig != "" {
		if err := writeTargetConfig(s.Err, c.WriteConfig, cfg); err != nil {
			return err
		}
		fmt.Fprintf(s.Err, "kdlaunch: wrote %s: kdlaunch run --config %s uses the same settings\n", c.WriteConfig, c.WriteConfig)
		if strings.HasPrefix(strings.ToLower(cfg.Target.Connection), "net:") && cfg.NetKey() == "" {
			fmt.Fprintf(s.Err, "kdlaunch: note: %s has no KDNET key yet: add the key bcdedit prints on the target as key = \"...\" under [target]\n", c.WriteConfig)
		}
	}

	if c.Output == "" {
		if holdsKey {
			fmt.Fprintln(s.Err, "kdlaunch: warning: the script below holds the KDNET key: keep it private")
		}
		_, err := fmt.Fprint(s.Out, text)
		return err
	}
	perm := fs.FileMode(0o644)
	if holdsKey {
		perm = 0o600
	}
	if err := writeFileReplacing(s.Err, c.Output, []byte(targetsetup.CRLF(text)), perm); err != nil {
		return fmt.Errorf("-o %s: %w", c.Output, err)
	}
	if holdsKey {
		fmt.Fprintf(s.Err, "kdlaunch: wrote %s (mode 0600: it holds the KDNET key; delete it once the target is set up)\n", c.Output)
	} else {
		fmt.Fprintf(s.Err, "kdlaunch: wrote %s\n", c.Output)
	}
	return nil
}

// load builds the configuration as run does: defaults, then the file, then
// flags (the same --connect/--port/--baud rules), so that the script matches
// what run will use.
func (c *TargetSetupCmd) load() (*config.Config, error) {
	cfg := config.Default()
	if c.Config != "" {
		var err error
		if cfg, err = config.Load(c.Config); err != nil {
			return nil, err
		}
	}
	if c.HostIP != "" {
		cfg.Target.HostIP = c.HostIP
	}
	if c.Tag != "" {
		cfg.Target.Tag = c.Tag
	}
	if c.Strategy != "" {
		cfg.Target.Strategy = c.Strategy
	}
	if err := setConnection(cfg, c.Connect, c.Port, c.Baud); err != nil {
		return nil, err
	}
	return cfg, nil
}

// targetTOML is the [target] section --write-config writes.
type targetTOML struct {
	Connection string          `toml:"connection"`
	Key        string          `toml:"key,omitempty"`
	HostIP     string          `toml:"host_ip,omitempty"`
	Tag        string          `toml:"tag,omitempty"`
	Strategy   script.Strategy `toml:"strategy,omitempty"`
}

// writeTargetConfig writes cfg's [target] section as a config file run can
// read. It refuses to overwrite an existing file, and the file is 0600 when
// it holds the KDNET key.
func writeTargetConfig(stderr io.Writer, path string, cfg *config.Config) error {
	var b bytes.Buffer
	b.WriteString("# kdlaunch lab configuration, written by kdlaunch target-setup.\n")
	b.WriteString("# kdlaunch run --config FILE and kdlaunch target-setup --config FILE both read it,\n")
	b.WriteString("# so host and target agree. Other sections: see config.example.toml.\n\n")
	doc := struct {
		Target targetTOML `toml:"target"`
	}{targetTOML{
		Connection: cfg.Target.Connection,
		Key:        cfg.Target.Key,
		HostIP:     cfg.Target.HostIP,
		Tag:        cfg.Target.Tag,
		Strategy:   cfg.Target.Strategy,
	}}
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("--write-config: %w", err)
	}
	perm := fs.FileMode(0o644)
	if cfg.NetKey() != "" {
		perm = 0o600
	}
	if err := writeFileNew(stderr, path, b.Bytes(), perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("--write-config %s: the file exists, and kdlaunch does not overwrite a config: choose another name, or delete it first", path)
		}
		return fmt.Errorf("--write-config %s: %w: choose another file", path, report.UnwrapPath(err))
	}
	return nil
}

// checkTarget refuses a file to write that is a folder, that is the config
// file read, or that exists when it may not be replaced (a config).
func checkTarget(path string, replace bool, inputs ...string) error {
	if err := outfile.CheckInputs(path, inputs); err != nil {
		return err
	}
	if err := outfile.Check(path); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil && !replace {
		return errors.New("the file exists, and kdlaunch does not overwrite a config: choose another name, or delete it first")
	}
	return nil
}

// writeFileReplacing writes data to path as every output is written (see
// writeOutput).
func writeFileReplacing(stderr io.Writer, path string, data []byte, perm fs.FileMode) error {
	return writeOutput(stderr, path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFileNew creates path with data and mode perm, failing with an error
// that wraps fs.ErrExist if it exists; a partly written file is removed.
// A missing folder is created, with a line on stderr.
func writeFileNew(stderr io.Writer, path string, data []byte, perm fs.FileMode) error {
	if err := outfile.MkdirAll(filepath.Dir(path), 0o755, createdFolder(stderr)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
