package cli

import (
	"os"
	"runtime"
	"strings"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/remote"
)

// kdArgs is kd's command line: -server first (kd requires it), then -k,
// then the user's extra options.
func kdArgs(cfg *config.Config, password string) []string {
	var a []string
	if cfg.Server.Transport != "none" {
		a = append(a, "-server", remote.ServerTransport(cfg.Server.Transport, password))
	}
	a = append(a, "-k", cfg.ConnectionString())
	return append(a, cfg.KD.Args...)
}

// logVars are the variables that name kd's debug log; only one may be set.
var logVars = []string{"_NT_DEBUG_LOG_FILE_OPEN", "_NT_DEBUG_LOG_FILE_APPEND"}

// kdEnv is the environment all incarnations share: the user's, minus any
// log variable (ours decides), plus _NT_SYMBOL_PATH and [env].
func kdEnv(base []string, cfg *config.Config, logPath string) []string {
	env := make([]string, 0, len(base)+len(cfg.Env)+2)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if isLogVar(k) {
			continue
		}
		env = append(env, kv)
	}
	if cfg.KD.SymbolPath != "" {
		env = setEnv(env, "_NT_SYMBOL_PATH", cfg.KD.SymbolPath)
	} else if _, ok := lookupEnv(env, "_NT_SYMBOL_PATH"); !ok {
		env = setEnv(env, "_NT_SYMBOL_PATH", config.DefaultSymbolCache)
	}
	for k, v := range cfg.Env {
		env = setEnv(env, k, v)
	}
	return env
}

// kdEnvFor adds the log variable for one incarnation: a fresh log is opened
// (truncated) only by the first; every restart appends, so no hit is lost.
func kdEnvFor(env []string, cfg *config.Config, logPath string, incarnation int) []string {
	out := append([]string(nil), env...)
	for _, kv := range kdOwnEnv(cfg, logPath, incarnation) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "_NT_SYMBOL_PATH" {
			continue
		}
		out = setEnv(out, k, v)
	}
	return out
}

// kdOwnEnv lists what kdlaunch itself sets (for --dry-run and kdEnvFor).
func kdOwnEnv(cfg *config.Config, logPath string, incarnation int) []string {
	v := "_NT_DEBUG_LOG_FILE_APPEND"
	if cfg.KD.FreshLog && incarnation == 0 {
		v = "_NT_DEBUG_LOG_FILE_OPEN"
	}
	sym := cfg.KD.SymbolPath
	if sym == "" {
		if s, ok := os.LookupEnv("_NT_SYMBOL_PATH"); ok {
			sym = s
		} else {
			sym = config.DefaultSymbolCache
		}
	}
	out := []string{"_NT_SYMBOL_PATH=" + sym, v + "=" + logPath}
	for k, val := range cfg.Env {
		out = append(out, k+"="+val)
	}
	return out
}

func isLogVar(k string) bool {
	for _, v := range logVars {
		if sameKey(k, v) {
			return true
		}
	}
	return false
}

// Windows environment names are case-insensitive.
func sameKey(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func lookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if sameKey(k, key) {
			return v, true
		}
	}
	return "", false
}

func setEnv(env []string, key, val string) []string {
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if sameKey(k, key) {
			env[i] = key + "=" + val
			return env
		}
	}
	return append(env, key+"="+val)
}

func quoteArgs(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = quoteArg(s)
	}
	return out
}

func quoteArg(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}
