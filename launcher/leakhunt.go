package launcher

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/script"
)

// The leak strategy's part of the session (docs/leaks.md): at the first
// halt the probe's family and the target's architecture choose the recipe;
// arming types its header, the free and entry breakpoints and bl; a
// "KDLK1 N <ra>" halt (an allocation through a call site with no return
// breakpoint yet) adds that site's breakpoint and redefines the entry
// breakpoint with the longer list, then g; a reboot re-arms with the reboot
// record and no sites (addresses move with each boot); the safe stop reads
// !poolused for the tag before its g.

// LeakPlan is the leak strategy's part of a Plan.
type LeakPlan struct {
	// Tag is the hunt's tag as kd's !poolused takes it ("Ddk", "Dd*"): the
	// safe stop asks for its outstanding count and bytes.
	Tag string
}

// LeakHalts are the halts of the leak recipe's breakpoints, by role, as
// kd announced them ("Breakpoint N hit").
type LeakHalts struct {
	Entry  int64 // allocator entry (allocation record and stack)
	Return int64 // return sites (return record)
	Free   int64 // free routine (free record)
}

// LeakState is what the session knows of the leak recipe on this target.
type LeakState struct {
	Arch    records.Arch     // from the connection line or vertarget; "" until known
	Recipes []records.Recipe // one per allocator family the kernel has
	Sites   []uint64         // return sites with a breakpoint, in the order found
	Full    bool             // no breakpoint left for another site: the entry resumes by itself
	// Armed: the recipe was armed in this incarnation (the header is in
	// the log); Rebooted: the target left since, so the next arming writes
	// the reboot record instead.
	Armed, Rebooted bool
	NewSite         uint64 // the return site the target halted for
	HasNewSite      bool
	// CrossChecked: the stop asked !poolused (once, even if the target
	// halts again after the stop's g).
	CrossChecked bool
}

// leaking reports whether the session hunts with the leak recipe.
func (s *stepper) leaking() bool { return s.m.Plan.Leaks != nil }

// entryID, freeID and siteBase number the recipe's breakpoints: per family
// its entry and free breakpoints (0 and 1 for one family, as docs/leaks.md
// has them), then the --command breakpoints, which are typed next and get
// the lowest free IDs from kd, then the return sites, so that a site's bp
// never redefines one of theirs.
func entryID(fam int) int { return 2 * fam }
func freeID(fam int) int  { return 2*fam + 1 }
func (s *stepper) siteBase() int {
	return 2*len(s.m.Leak.Recipes) + countBreakpoints(s.m.Plan.Arm)
}

// maxSites is how many return sites fit under kd's kernel limit beside the
// recipe's own breakpoints and those of --command.
func (s *stepper) maxSites() int {
	return max(0, min(records.MaxBreakpoints-s.siteBase(), records.MaxReturnSites))
}

func countBreakpoints(cmds []Command) int {
	n := 0
	for _, c := range cmds {
		if isBreakpoint(c) {
			n++
		}
	}
	return n
}

// leakLine reads the lines the leak recipe cares about: the connection's
// architecture, a hit's breakpoint number, and the new-site record.
func (s *stepper) leakLine(l Line) {
	switch l.Class {
	case script.Connected, script.Established:
		if a, ok := script.ArchOfConnection(l.Text); ok {
			s.m.Leak.Arch = records.Arch(a)
		}
		return
	case script.BreakpointHit:
		if id, ok := script.HitID(l.Text); ok {
			s.leakHit(id)
		}
		return
	}
	if records.Find([]byte(l.Text)) < 0 {
		return
	}
	rec, ok := records.Parse([]byte(l.Text))
	if !ok || rec.Kind != records.KindNewSite || !s.m.Leak.Armed || s.m.Leak.Full {
		return // a full entry breakpoint prints its new-site record and resumes by itself
	}
	// The entry breakpoint left the target halted for kdlaunch: its prompt
	// follows, so no break now (kd would queue it).
	s.m.Leak.NewSite, s.m.Leak.HasNewSite = rec.RA, true
	s.m.Halting, s.m.Halt = true, HaltLeakSite
}

func (s *stepper) leakHit(id int) {
	l := &s.m.Leak
	if !l.Armed || id < 0 {
		return
	}
	h := &s.m.Counters.LeakHalts
	switch base := s.siteBase(); {
	case id < 2*len(l.Recipes) && id%2 == 0:
		h.Entry++
	case id < 2*len(l.Recipes):
		h.Free++
	case id >= base && id < base+len(l.Sites):
		h.Return++
	}
}

// expandLeaks is the arm slot of the leak strategy: the recipe for each
// family the probe found on the target's architecture, its header (or the
// reboot record), the free and entry breakpoints, the plan's own commands,
// bl and g. Asking vertarget first when the connection line did not name
// the architecture.
func (s *stepper) expandLeaks() ([]Command, bool) {
	l := &s.m.Leak
	if l.Arch == "" {
		if ans, asked := s.m.Answers[script.VertargetCommand]; asked {
			a, ok := script.ArchOfVertarget(ans)
			if !ok {
				s.fail(&LeakArmError{Why: fmt.Sprintf("leak recipe: kd named no architecture kdlaunch knows, neither in its connection line nor in vertarget (kd: %q)", firstLineOf(ans)),
					Fix: "use --strategy special-pool, which needs no registers"})
				return nil, false
			}
			l.Arch = records.Arch(a)
		} else {
			return []Command{{Text: script.VertargetCommand, Purpose: PurposeProbe}, {Purpose: purposeArmSlot}}, true
		}
	}
	if l.Recipes == nil {
		fams, err := script.CheckAllocators(script.ProbeFamilies(s.m.Answers))
		if err != nil {
			s.fail(err)
			return nil, false
		}
		var unsupported []string
		for _, p := range fams {
			r, err := records.NewRecipe(l.Arch, records.Family(p.Family.Name))
			if err != nil {
				unsupported = append(unsupported, err.Error())
				continue
			}
			l.Recipes = append(l.Recipes, r)
		}
		if len(l.Recipes) == 0 {
			// Each says what to use instead.
			s.fail(&LeakArmError{Why: strings.Join(unsupported, "; ")})
			return nil, false
		}
		for _, u := range unsupported {
			s.note(hclog.Warn, u+": that family is not tracked")
		}
	}
	var q []Command
	if l.Armed && l.Rebooted {
		q = append(q, Command{Text: l.Recipes[0].Reboot(), Purpose: PurposeArm})
	} else {
		for _, r := range l.Recipes {
			q = append(q, Command{Text: r.Header(), Purpose: PurposeArm})
		}
	}
	l.Armed, l.Rebooted = true, false
	l.Sites, l.Full, l.HasNewSite = nil, s.maxSites() == 0, false
	var names []string
	for i, r := range l.Recipes {
		entry, err := s.entryCommand(r, i)
		if err != nil {
			s.fail(err)
			return nil, false
		}
		q = append(q, Command{Text: r.FreeBreakpoint(freeID(i)), Purpose: PurposeArm}, Command{Text: entry, Purpose: PurposeArm})
		names = append(names, r.AllocRoutine()+" and "+r.FreeRoutine())
	}
	s.note(hclog.Info, fmt.Sprintf("the target is %s and its kernel allocates special pool through %s: arming the leak recipe", l.Arch, strings.Join(names, ", ")))
	q = append(q, withPurpose(s.m.Plan.Arm, PurposeArm)...)
	q = append(q, Command{Text: "bl", Purpose: PurposeVerify})
	q = append(q, withPurpose(s.m.Plan.Verify, PurposeVerify)...)
	return append(q, Command{Text: "g", Purpose: PurposeResume}), true
}

// entryCommand is family i's entry breakpoint for the sites known now.
func (s *stepper) entryCommand(r records.Recipe, i int) (string, error) {
	if s.m.Leak.Full {
		return r.EntryBreakpointFull(entryID(i), s.m.Leak.Sites)
	}
	return r.EntryBreakpoint(entryID(i), s.m.Leak.Sites)
}

// leakNewSite: the target is halted at the allocator's entry for a call
// site without a return breakpoint. Its breakpoint, the entry breakpoints
// redefined with the longer list, and g: the current call's return is
// caught too, as its breakpoint now exists. Once the sites are used up the
// entry breakpoints resume by themselves, said once.
func (s *stepper) leakNewSite() []Command {
	l := &s.m.Leak
	ra := l.NewSite
	l.HasNewSite = false
	resume := Command{Text: "g", Purpose: PurposeResume}
	if slices.Contains(l.Sites, ra) || l.Full {
		return []Command{resume} // already added (a second CPU's halt for it)
	}
	id := s.siteBase() + len(l.Sites)
	l.Sites = append(slices.Clip(l.Sites), ra)
	q := []Command{{Text: l.Recipes[0].ReturnBreakpoint(id, ra), Purpose: PurposeReturnSite}}
	if len(l.Sites) >= s.maxSites() {
		l.Full = true
		s.note(hclog.Warn, fmt.Sprintf("all %d return-site breakpoints are in use (kd allows %d in kernel mode): allocations through further call sites are counted unpaired, never as leaks", len(l.Sites), records.MaxBreakpoints))
	}
	for i, r := range l.Recipes {
		entry, err := s.entryCommand(r, i)
		if err != nil {
			s.fail(err)
			return nil
		}
		q = append(q, Command{Text: entry, Purpose: PurposeArm})
	}
	return append(q, resume)
}

// returnSiteAnswered: kd refused a return site's breakpoint. The site stays
// in the entry breakpoints' list (else every allocation through it would
// halt for kdlaunch again); its allocations never pair and are counted
// unpaired. One line; the hunt goes on.
func (s *stepper) returnSiteAnswered(cmd, answer string) {
	if line, refused := script.ReturnSiteAnswer(answer); refused {
		s.note(hclog.Warn, fmt.Sprintf("kd did not place the return-site breakpoint %s (kd: %q): allocations returning there are counted unpaired, never as leaks; the hunt goes on", cmd, line))
	}
}

// crossCheck is what the safe stop types for the leak strategy before its
// g: !poolused for the tag, kd's own outstanding count and bytes, to set
// beside kdlaunch's.
func (s *stepper) crossCheck() []Command {
	if !s.leaking() || !s.m.Leak.Armed || s.m.Leak.CrossChecked || s.m.Phase != PhaseStopping || s.m.Failure != nil || s.m.BugCheck != nil {
		return nil
	}
	s.m.Leak.CrossChecked = true
	return []Command{{Text: script.PoolUsedCommand(s.m.Plan.Leaks.Tag), Purpose: PurposeCrossCheck}}
}

// leakArmedNote is what the arming's g says for the leak strategy.
func (s *stepper) leakArmedNote() string {
	var fams []string
	for _, r := range s.m.Leak.Recipes {
		fams = append(fams, string(r.Family))
	}
	return fmt.Sprintf("leak recipe armed (%s, %s; kd placed every breakpoint and bl lists them enabled): return sites are added as allocations find them, target running", s.m.Leak.Arch, strings.Join(fams, ", "))
}

// LeakArmError says why the leak recipe cannot be armed on this target.
type LeakArmError struct {
	Why string
	Fix string
}

func (e *LeakArmError) Error() string {
	if e.Fix == "" {
		return e.Why
	}
	return e.Why + "; " + e.Fix
}

// Is makes errors.Is(err, script.ErrNotArmed) true: nothing could be armed.
func (e *LeakArmError) Is(target error) bool { return target == script.ErrNotArmed }

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
