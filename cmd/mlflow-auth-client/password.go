package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// resolvePassword fills in the password parameter at index i: a given "-" or
// --password-stdin reads the first line of stdin; a missing one is asked for on
// the terminal without echo (twice, to catch typos). Anything else is the
// password itself, as in the Python CLI.
func resolvePassword(args []string, i int, fromStdin bool, stdin io.Reader, stderr io.Writer) ([]string, error) {
	var pw string
	var err error
	switch {
	case fromStdin || (len(args) > i && args[i] == "-"):
		pw, err = readLine(stdin)
	case len(args) > i:
		return args, nil
	default:
		pw, err = prompt(stdin, stderr)
	}
	if err != nil {
		return nil, err
	}
	return append(args[:i], pw), nil
}

func readLine(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on stdin")
	}
	return pw, nil
}

func prompt(stdin io.Reader, stderr io.Writer) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageError{errors.New("no password given: pass it as an argument, pass - or --password-stdin to read it from stdin, or run in a terminal to be prompted")}
	}
	var answers [2]string
	for i, question := range []string{"Password: ", "Repeat it: "} {
		fmt.Fprint(stderr, question)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		answers[i] = string(b)
	}
	if answers[0] != answers[1] {
		return "", errors.New("the two passwords differ")
	}
	if answers[0] == "" {
		return "", errors.New("empty password")
	}
	return answers[0], nil
}
