//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// openPTY opens a pseudo-terminal with plain syscalls: the controller end, where
// the test types, and the terminal end, the command's stdin.
func openPTY(t *testing.T) (controller, terminal *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { controller.Close() })
	var unlock int32
	var n uint32
	for _, req := range []struct {
		op  uintptr
		arg unsafe.Pointer
	}{{syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)}, {syscall.TIOCGPTN, unsafe.Pointer(&n)}} {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, controller.Fd(), req.op, uintptr(req.arg)); errno != 0 {
			t.Fatalf("ioctl %#x: %v", req.op, errno)
		}
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { terminal.Close() })
	return controller, terminal
}

// typeAndRun types the lines on a fresh terminal and runs the command with it as stdin.
func typeAndRun(t *testing.T, lines string, args ...string) result {
	t.Helper()
	controller, terminal := openPTY(t)
	if _, err := controller.WriteString(lines); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, terminal, &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

func TestPasswordPrompt(t *testing.T) {
	srv := startServer(t)
	r := typeAndRun(t, "gina-password-1\ngina-password-1\n", "create-user", "gina")
	if r.code != exitOK || !strings.Contains(r.stderr, "Password: ") || !strings.Contains(r.stderr, "Repeat it: ") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "gina-password-1") {
		t.Error("the typed password was written out")
	}
	useServer(t, srv.URL, "gina", "gina-password-1")
	if me := decode(t, ok(t, "get-current-user"), &v1.GetCurrentUserResponse{}); me.GetUser().GetUsername() != "gina" {
		t.Fatalf("gina cannot log in with the typed password: %v", me)
	}

	r = typeAndRun(t, "gina-password-2\ngina-password-3\n", "update-user-password", "gina")
	if r.code != exitFailed || !strings.Contains(r.stderr, "the two passwords differ") {
		t.Errorf("two different passwords: exit %d, stderr %q", r.code, r.stderr)
	}
}
