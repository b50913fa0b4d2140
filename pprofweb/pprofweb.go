// Package pprofweb serves `kdlaunch report --web`: pprof's own web UI
// (flame graph, top, peek, graph) for a report, in-process through
// github.com/google/pprof/driver, so a lab machine without a Go toolchain
// gets it too.
package pprofweb

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/driver"
	"github.com/google/pprof/profile"

	"github.com/kdlaunch/kdlaunch/report"
)

// Options tune Serve.
type Options struct {
	// Addr is where to listen; "" means 127.0.0.1 on a free port.
	Addr string
	// Browser opens the default view in a browser (where one exists).
	Browser bool
	// Out gets the URL line and pprof's own messages.
	Out io.Writer
	// Skip names the allocator and kernel frames hidden in the default view
	// (nil = report.DefaultSkip()).
	Skip *report.Skip
	// Ready, if set, is called with the server's URL once it listens
	// (tests use it).
	Ready func(url string)
}

// Serve serves the pprof UI for r until ctx is cancelled (Ctrl+C), then
// returns nil.
func Serve(ctx context.Context, r *report.Report, opt Options) error {
	if r.StacksTotal == 0 {
		return errors.New("no stacks to show: the logs hold no kb output")
	}
	addr := opt.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	out := opt.Out
	if out == nil {
		out = io.Discard
	}
	skip := opt.Skip
	if skip == nil {
		skip = report.DefaultSkip()
	}
	p := report.Profile(r)
	if err := p.CheckValid(); err != nil {
		return fmt.Errorf("pprof profile: %w", err)
	}
	// Listening here, not in pprof, keeps the free port we were given
	// (pprof would probe a port, close it and listen again).
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --http ADDR)", addr, err)
	}
	defer ln.Close()
	view := "http://" + ln.Addr().String() + "/"

	fs := newFlags([]string{"-http=" + ln.Addr().String(), "-symbolize=none", "-no_browser", "kdlaunch"})
	serve := func(args *driver.HTTPServerArgs) error {
		mux := http.NewServeMux()
		for pattern, h := range args.Handlers {
			if pattern != "/" {
				mux.Handle(pattern, h)
			}
		}
		root := args.Handlers["/"]
		mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
			// The bare address opens the default view; every pprof link
			// carries its own path or query.
			if req.URL.Path == "/" && req.URL.RawQuery == "" {
				http.Redirect(w, req, DefaultView(r, skip), http.StatusFound)
				return
			}
			root.ServeHTTP(w, req)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintf(out, "pprof web UI: %s (opens the flame graph with the allocator frames hidden; Ctrl+C stops)\n", view)
		if opt.Browser {
			if err := openBrowser(view); err != nil {
				fmt.Fprintf(out, "could not open a browser (%v): open the URL above\n", err)
			}
		}
		if opt.Ready != nil {
			opt.Ready(view)
		}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(shut)
			<-errc
			return nil
		case err := <-errc:
			return err
		}
	}
	err = driver.PProf(&driver.Options{
		Flagset:    fs,
		Fetch:      fetcher{p},
		Sym:        noSymbolizer{},
		UI:         &ui{out: out},
		HTTPServer: serve,
	})
	if err != nil {
		return fmt.Errorf("pprof web UI: %w", err)
	}
	return nil
}

// DefaultView is the path and query of the first page: the flame graph
// with the frames between the allocator and the culprit hidden, so the
// culprits are the leaves and the top view ranks them.
func DefaultView(r *report.Report, skip *report.Skip) string {
	hidden := map[string]bool{}
	for _, s := range r.Stacks {
		for _, f := range s.Frames {
			if f == s.Culprit || !skip.Skipped(f) {
				break
			}
			hidden[f] = true
		}
	}
	if len(hidden) == 0 {
		return "/flamegraph"
	}
	names := make([]string, 0, len(hidden))
	for f := range hidden {
		names = append(names, regexp.QuoteMeta(f))
	}
	sort.Strings(names)
	return "/flamegraph?hide=" + url.QueryEscape("^("+strings.Join(names, "|")+")$")
}

type fetcher struct{ p *profile.Profile }

func (f fetcher) Fetch(string, time.Duration, time.Duration) (*profile.Profile, string, error) {
	return f.p.Copy(), "", nil
}

// noSymbolizer: every frame already is a name kd printed.
type noSymbolizer struct{}

func (noSymbolizer) Symbolize(string, driver.MappingSources, *profile.Profile) error { return nil }

type ui struct{ out io.Writer }

func (u *ui) ReadLine(string) (string, error) { return "", io.EOF }
func (u *ui) Print(a ...any)                  { u.line(a...) }
func (u *ui) PrintErr(a ...any)               { u.line(a...) }
func (u *ui) IsTerminal() bool                { return false }
func (u *ui) WantBrowser() bool               { return false }
func (u *ui) SetAutoComplete(func(string) string) {
}

func (u *ui) line(a ...any) {
	s := fmt.Sprint(a...)
	// pprof announces its own URL; ours (with the default view) is printed
	// instead.
	if strings.HasPrefix(s, "Serving web UI on ") {
		return
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	io.WriteString(u.out, "pprof: "+s)
}

// flags is the driver.FlagSet pprof parses: a fixed command line, never
// os.Args.
type flags struct {
	set   *flag.FlagSet
	args  []string
	extra []string
}

func newFlags(args []string) *flags {
	fs := flag.NewFlagSet("pprof", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{set: fs, args: args}
}

func (f *flags) Bool(n string, d bool, u string) *bool          { return f.set.Bool(n, d, u) }
func (f *flags) Int(n string, d int, u string) *int             { return f.set.Int(n, d, u) }
func (f *flags) Float64(n string, d float64, u string) *float64 { return f.set.Float64(n, d, u) }
func (f *flags) String(n string, d string, u string) *string    { return f.set.String(n, d, u) }
func (f *flags) StringList(n string, d string, u string) *[]*string {
	return &[]*string{f.set.String(n, d, u)}
}
func (f *flags) ExtraUsage() string      { return strings.Join(f.extra, "\n") }
func (f *flags) AddExtraUsage(eu string) { f.extra = append(f.extra, eu) }
func (f *flags) Parse(usage func()) []string {
	if err := f.set.Parse(f.args); err != nil {
		usage()
		return nil
	}
	return f.set.Args()
}
