package vtlines

import "fmt"

// Virtual-key codes and control-key state bits of Win32 KEY_EVENT_RECORD.
const (
	vkCancel        = 0x03 // VK_CANCEL: the Break key with Ctrl held
	scanBreak       = 0x46 // the Pause/Break key's scan code
	leftCtrlPressed = 0x0008
	enhancedKey     = 0x0100
)

// Win32KeyEvent encodes one key event in win32-input-mode, the VT form a
// ConPTY that asked for it (ESC[?9001h) turns back into a KEY_EVENT_RECORD:
// ESC [ Vk ; Sc ; Uc ; Kd ; Cs ; Rc _ (microsoft/terminal,
// doc/specs/#4999 - Improved keyboard handling in Conpty.md).
func Win32KeyEvent(vk, scan uint16, char rune, down bool, ctrlState uint32, repeat int) string {
	kd := 0
	if down {
		kd = 1
	}
	return fmt.Sprintf("\x1b[%d;%d;%d;%d;%d;%d_", vk, scan, char, kd, ctrlState, repeat)
}

// CtrlBreak is a Ctrl+Break press and release in win32-input-mode: a console
// turns it into CTRL_BREAK_EVENT for the processes on it, even ones that
// ignore CTRL+C.
func CtrlBreak() string {
	state := uint32(leftCtrlPressed | enhancedKey)
	return Win32KeyEvent(vkCancel, scanBreak, 0, true, state, 1) + Win32KeyEvent(vkCancel, scanBreak, 0, false, state, 1)
}
