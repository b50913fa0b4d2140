package launcher

import (
	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/redact"
	"github.com/kdlaunch/kdlaunch/transcript"
)

// Sinks are where a run's output goes: kd's lines and kdlaunch's own
// messages, all masked by Redact. One value is given to Supervise, which
// hands it to each pump and session.
type Sinks struct {
	Console    *Console           // the user's terminal; nil for none
	Transcript *transcript.Writer // nil for none
	Redact     *redact.Redactor   // nil masks nothing
	Log        hclog.Logger       // nil for none; kd's lines go to its "kd" sub-logger at Debug
	// Status receives the session's state once a second, for a status
	// line; nil for none.
	Status func(Snapshot)
}

// withDefaults fills what a caller may leave out.
func (s Sinks) withDefaults() Sinks {
	if s.Log == nil {
		s.Log = hclog.NewNullLogger()
	}
	return s
}

// note is one of kdlaunch's own messages: to the log, the transcript and
// the console, masked.
func (s Sinks) note(level hclog.Level, msg string) string {
	msg = s.Redact.String(msg)
	s.Log.Log(level, msg)
	s.Transcript.Event(msg)
	s.Console.Note("kdlaunch: " + msg)
	return msg
}
