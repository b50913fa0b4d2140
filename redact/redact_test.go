package redact

import "testing"

func TestRedactor(t *testing.T) {
	tests := []struct {
		secrets []string
		in      string
		want    string
	}{
		{[]string{"hunter2"}, "password=hunter2,pipe=x", "password=***,pipe=x"},
		{[]string{"abc", "abcdef"}, "key=abcdef and abc", "key=*** and ***"},
		{[]string{""}, "nothing", "nothing"},
		{nil, "nothing", "nothing"},
		{[]string{"k"}, "", ""},
	}
	for _, tt := range tests {
		if got := New(tt.secrets...).String(tt.in); got != tt.want {
			t.Errorf("New(%q).String(%q) = %q, want %q", tt.secrets, tt.in, got, tt.want)
		}
	}
	var nilR *Redactor
	if nilR.String("x") != "x" {
		t.Error("nil redactor must pass text through")
	}
}
