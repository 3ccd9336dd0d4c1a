package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/estatehq/estate/desk/deskconfig"
)

// stdin is where hash-password reads the password; a variable so that tests
// can hand it a pseudo-terminal or a pipe.
var stdin io.Reader = os.Stdin

func init() {
	register("hash-password", command{"hash-password [--cost N]",
		"read a password (without echo on a terminal, else one line of standard input) and print its bcrypt hash for desk.staff[].password_hash",
		hashPassword})
}

// hashPassword prints the bcrypt hash of a password for the desk's staff
// list, at the desk's required cost or more, so that no other tool
// (htpasswd) is needed to add a person.
func hashPassword(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("hash-password", stderr)
	cost := fs.Int("cost", max(deskconfig.MinBcryptCost, bcrypt.DefaultCost),
		fmt.Sprintf("bcrypt cost, %d (what the desk requires) to %d; each step doubles the time of a login", deskconfig.MinBcryptCost, bcrypt.MaxCost))
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "estate hash-password: the password is read from the terminal or standard input, never from the command line (it would stay in the shell's history)")
		return 2
	}
	if *cost < deskconfig.MinBcryptCost || *cost > bcrypt.MaxCost {
		fmt.Fprintf(stderr, "estate hash-password: --cost must be %d..%d, got %d\n", deskconfig.MinBcryptCost, bcrypt.MaxCost, *cost)
		return 2
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "estate hash-password: %v\n", err)
		return 1
	}
	h, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		fmt.Fprintf(stderr, "estate hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}

// readPassword reads the password twice, without echo, from a terminal
// (prompts on stderr), or once, as the first line, from anything else (a
// pipe: `printf %s "$PW" | estate hash-password`).
func readPassword(in io.Reader, prompt io.Writer) ([]byte, error) {
	var pw []byte
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprint(prompt, "Password: ")
		first, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprint(prompt, "Again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the password: %w", err)
		}
		if string(first) != string(again) {
			return nil, errors.New("the two passwords differ; nothing was hashed")
		}
		pw = first
	} else {
		line, err := bufio.NewReaderSize(in, 4096).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password: %w", err)
		}
		pw = []byte(strings.TrimRight(line, "\r\n"))
	}
	switch {
	case len(pw) == 0:
		return nil, errors.New("the password is empty")
	case len(pw) > 72:
		// bcrypt uses the first 72 bytes only: longer passwords would be
		// silently cut, so they are refused.
		return nil, fmt.Errorf("the password is %d bytes; bcrypt takes at most 72", len(pw))
	}
	return pw, nil
}
