package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/targetsetup"
)

// TagCmd is `kdlaunch tag`: encode a pool tag the way the registry and the
// debugger show it, decode a value back, or compute a size-range value.
type TagCmd struct {
	Tag       string `arg:"" optional:"" help:"Pool tag: 1 to 4 printable ASCII characters, case kept, padded with spaces to 4 (e.g. Ddk, Tag1); '?' matches one character, '*' the rest of the tag (e.g. N??s, Nt*)."`
	Decode    string `help:"Turn a PoolTag value back into its tag: 0x206b6444, 206b6444 (hex, as kd shows it) or 0n543908932 (decimal)." placeholder:"VALUE"`
	Size      *int   `help:"Instead of a tag, the PoolTag value that puts allocations of up to BYTES (within their 16-byte range on x64, 8 on x86) into special pool. Not a tag: it affects every driver." placeholder:"BYTES"`
	Arch      string `help:"Target architecture for --size and for reading a size value: x64 or x86." enum:"x64,x86" default:"x64"`
	JSON      bool   `name:"json" help:"Print JSON instead of text."`
	RegFile   string `name:"reg-file" help:"Also write a .reg file that sets PoolTag and PoolTagOverruns (import it on the target, then reboot)." placeholder:"FILE"`
	Underruns bool   `help:"Set PoolTagOverruns to 0 (catch underruns) in the lines and the .reg file, instead of 1 (overruns, Windows' default)."`
}

// tagView is what `kdlaunch tag` reports; it is also the JSON output.
type tagView struct {
	Tag        string         `json:"tag,omitempty"`
	DWORD      uint32         `json:"dword"`
	Hex        string         `json:"hex"`
	Debugger   string         `json:"debugger"`
	Kind       string         `json:"kind"` // "tag", "size" or "off"
	Wildcard   bool           `json:"wildcard"`
	Chars      []pooltag.Char `json:"chars,omitempty"`
	SizeRanges []tagSizeRange `json:"size_ranges,omitempty"`
	RegAdd     []string       `json:"reg_add,omitempty"`
	GFlags     []string       `json:"gflags,omitempty"`
	PoolHitTag string         `json:"pool_hit_tag,omitempty"`
	Warning    string         `json:"warning,omitempty"`
	KdProblem  string         `json:"kd_problem,omitempty"`
	RegFile    string         `json:"reg_file,omitempty"`

	tag pooltag.Tag
}

type tagSizeRange struct {
	Arch string `json:"arch"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
}

// Run prints the tag's encoding and the lines that set it.
func (c *TagCmd) Run(s streams) error {
	v, err := c.view()
	if err != nil {
		return &ExitError{Code: exitcode.Usage, Err: err}
	}
	if c.RegFile != "" {
		if v.Kind == "off" {
			return fmt.Errorf("--reg-file: 0 turns special pool off; delete the value instead: reg delete \"%s\" /v PoolTag /f", targetsetup.MemoryManagementKey)
		}
		what := "pool tag " + v.tag.Quoted()
		if v.Kind == "size" {
			what = "an allocation-size range (not a tag)"
		}
		data := targetsetup.EncodeRegFile(targetsetup.RegFile(v.DWORD, c.Underruns, what))
		if err := writeFileReplacing(s.Err, c.RegFile, data, 0o644); err != nil {
			return fmt.Errorf("--reg-file %s: %w", c.RegFile, err)
		}
		v.RegFile = c.RegFile
	}
	if v.Warning != "" {
		fmt.Fprintln(s.Err, "kdlaunch: warning: "+v.Warning)
	}
	if v.KdProblem != "" {
		fmt.Fprintln(s.Err, "kdlaunch: note: run and target-setup refuse this tag: "+v.KdProblem)
	}
	if c.JSON {
		enc := json.NewEncoder(s.Out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	printTagView(s.Out, v)
	return nil
}

// view works out what to report from the one input given.
func (c *TagCmd) view() (tagView, error) {
	n := 0
	for _, given := range []bool{c.Tag != "", c.Decode != "", c.Size != nil} {
		if given {
			n++
		}
	}
	switch {
	case n == 0:
		return tagView{}, errors.New("give a tag (kdlaunch tag Ddk), --decode VALUE or --size BYTES")
	case n > 1:
		return tagView{}, errors.New("give one of a tag, --decode VALUE or --size BYTES, not several")
	}
	switch {
	case c.Size != nil:
		val, err := pooltag.SizeValue(*c.Size, c.Arch)
		if err != nil {
			return tagView{}, fmt.Errorf("--size: %w", err)
		}
		return c.sizeView(val, false), nil
	case c.Decode != "":
		val, err := pooltag.ParseDWORD(c.Decode)
		if err != nil {
			return tagView{}, fmt.Errorf("--decode: %w", err)
		}
		t, err := pooltag.Decode(val)
		var pe *pooltag.Error
		switch {
		case err == nil:
			return c.tagViewOf(t), nil
		case errors.As(err, &pe) && pe.Reason == pooltag.ReasonZero:
			return tagView{DWORD: 0, Hex: pooltag.Hex(0), Debugger: "00000000", Kind: "off"}, nil
		case errors.As(err, &pe) && pe.Reason == pooltag.ReasonSizeValue:
			return c.sizeView(val, true), nil
		}
		return tagView{}, fmt.Errorf("--decode: %w", err)
	}
	t, err := pooltag.Parse(c.Tag)
	if err != nil {
		if _, derr := pooltag.ParseDWORD(c.Tag); derr == nil {
			return tagView{}, fmt.Errorf("%s looks like a PoolTag value, not a tag: to turn it back into its tag, run kdlaunch tag --decode %s", c.Tag, c.Tag)
		}
		return tagView{}, err
	}
	return c.tagViewOf(t), nil
}

func (c *TagCmd) tagViewOf(t pooltag.Tag) tagView {
	v := tagView{
		Tag: t.String(), DWORD: t.DWORD(), Hex: t.Hex(), Debugger: t.Debugger(), Kind: "tag",
		Wildcard: t.Wildcard(), Chars: t.Chars(), RegAdd: targetsetup.RegAddLines(t.DWORD(), c.Underruns), tag: t,
	}
	if arg, ok := targetsetup.GFlagsArg(t, targetsetup.FormatCmd); ok {
		v.GFlags = []string{"gflags /r +spp " + arg, "gflags /k +spp " + arg}
	}
	if !t.Wildcard() {
		v.PoolHitTag = "ed nt!PoolHitTag " + t.Debugger()
	}
	if err := pooltag.ValidateForKd(t.String()); err != nil {
		v.KdProblem = err.Error()
	}
	if t.String() == "*" {
		v.Warning = "the tag * matches every allocation: special pool would take them from every driver, which slows the target and uses special pool up fast; give the leaking tag instead"
	}
	return v
}

// sizeView reports a size value for --arch, and for the other architecture
// too when both (a decoded value, whose architecture is not known).
func (c *TagCmd) sizeView(val uint32, both bool) tagView {
	v := tagView{DWORD: val, Hex: pooltag.Hex(val), Debugger: fmt.Sprintf("%08x", val), Kind: "size",
		RegAdd: targetsetup.RegAddLines(val, c.Underruns)}
	archs := []string{c.Arch}
	if both {
		archs = []string{"x64", "x86"}
	}
	for _, arch := range archs {
		if lo, hi, ok := pooltag.SizeRange(val, arch); ok {
			v.SizeRanges = append(v.SizeRanges, tagSizeRange{arch, lo, hi})
		}
	}
	what := "no allocation size on " + c.Arch + " (not a multiple of its range)"
	for _, r := range v.SizeRanges {
		if r.Arch == c.Arch {
			what = fmt.Sprintf("every allocation of %d to %d bytes on %s", r.Min, r.Max, r.Arch)
		}
	}
	v.Warning = fmt.Sprintf("%s is an allocation-size value, not a pool tag: special pool would take %s from every driver, which slows the target and uses special pool up fast", v.Hex, what)
	return v
}

func printTagView(w io.Writer, v tagView) {
	switch v.Kind {
	case "off":
		fmt.Fprintf(w, "%s is not a tag: PoolTag 0 (or no PoolTag value) turns special pool off.\n", v.Hex)
		return
	case "size":
		fmt.Fprintf(w, "PoolTag value %s (%d) selects allocations by size, not by tag:\n", v.Hex, v.DWORD)
		for _, r := range v.SizeRanges {
			fmt.Fprintf(w, "  %s: allocations of %d to %d bytes\n", r.Arch, r.Min, r.Max)
		}
		if len(v.SizeRanges) == 0 {
			fmt.Fprintln(w, "  no size range: not a multiple of the range (16 bytes on x64, 8 on x86)")
		}
		fmt.Fprintln(w, "\nOn the target, elevated, then reboot:")
		for _, l := range v.RegAdd {
			fmt.Fprintln(w, "  "+l)
		}
		printRegFileNote(w, v)
		return
	}
	t := v.tag
	note := "padded with spaces to 4 characters"
	switch {
	case strings.HasSuffix(v.Tag, "*"):
		note = "a mask: '*' matches the rest of the tag, so no padding"
	case !strings.HasSuffix(v.Tag, " "):
		note = "4 characters"
	}
	fmt.Fprintf(w, "Pool tag %s (%s)\n", t.Quoted(), note)
	if t.Wildcard() {
		fmt.Fprintln(w, "  '?' matches any one character, '*' the rest of the tag; only special pool understands them.")
	}
	fmt.Fprintln(w, "\n  char  ASCII  hex")
	for _, ch := range v.Chars {
		fmt.Fprintf(w, "  %-4s  %5d  %s\n", "'"+ch.Char+"'", ch.ASCII, ch.Hex)
	}
	fmt.Fprintf(w, "\nRegistry and GFlags value (first character in the lowest byte): %s (%d)\n", v.Hex, v.DWORD)
	fmt.Fprintf(w, "Debugger value (dd nt!MmSpecialPoolTag L1 shows it; ed takes it): %s\n", v.Debugger)
	// Memory holds the characters in order; only a DWORD view (dd) and
	// kd's character constants (ed ... ' kdD') read them backwards.
	fmt.Fprintf(w, "In memory the characters are in order: dc and !pool show %q; only dd's DWORD view (%s) reads them backwards, as does a character constant for ed ('%s')\n", t.String(), t.Debugger(), t.Reversed())
	fmt.Fprintln(w, "\nSpecial pool for this tag, on the target in an elevated Command Prompt, then reboot:")
	for _, l := range v.RegAdd {
		fmt.Fprintln(w, "  "+l)
	}
	if len(v.GFlags) == 2 {
		fmt.Fprintf(w, "Or with GFlags:\n  %s    (registry: after a reboot)\n  %s    (running kernel: at once, no reboot, lost at the next boot)\n", v.GFlags[0], v.GFlags[1])
	}
	if v.PoolHitTag != "" {
		fmt.Fprintf(w, "Without special pool, from kd (breaks on allocations and frees, no reboot):\n  %s    (clear with ed nt!PoolHitTag 0)\n", v.PoolHitTag)
	}
	printRegFileNote(w, v)
}

func printRegFileNote(w io.Writer, v tagView) {
	if v.RegFile != "" {
		fmt.Fprintf(w, "Wrote %s: import it on the target (reg import %s), then reboot.\n", v.RegFile, v.RegFile)
	}
}
