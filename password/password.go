// Package password hashes and verifies passwords in werkzeug's format, the one
// MLflow's basic-auth database holds: "scrypt:N:r:p$salt$hex" and
// "pbkdf2:<hash>:<iterations>$salt$hex". The salt is used as its UTF-8 text.
package password

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Params are scrypt's cost parameters for new hashes.
type Params struct{ N, R, P int }

// Default is werkzeug's scrypt default: memory-hard (32 MiB) and what MLflow writes.
var Default = Params{N: 32768, R: 8, P: 1}

// Limits on costs read from stored hashes, so a hostile row cannot exhaust the server.
const (
	maxScryptN       = 1 << 20
	maxScryptNR      = 1 << 20 // 128 MiB of scrypt memory
	maxScryptRP      = 64
	maxPBKDF2Rounds  = 10_000_000
	scryptKeyLen     = 64
	saltLen          = 16
	saltAlphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	errMalformedHash = "malformed password hash"
)

// ErrMalformed reports a stored hash this package cannot read.
var ErrMalformed = errors.New(errMalformedHash)

// method is the first field of a stored hash, as written by Hash.
func (p Params) method() string { return fmt.Sprintf("scrypt:%d:%d:%d", p.N, p.R, p.P) }

// Hash returns a new salted hash of password.
func (p Params) Hash(password string) (string, error) {
	salt, err := newSalt()
	if err != nil {
		return "", err
	}
	key, err := scrypt.Key([]byte(password), []byte(salt), p.N, p.R, p.P, scryptKeyLen)
	if err != nil {
		return "", err
	}
	return p.method() + "$" + salt + "$" + hex.EncodeToString(key), nil
}

// NeedsRehash reports whether a stored hash was made with other parameters,
// for example a pbkdf2 hash imported from MLflow.
func (p Params) NeedsRehash(stored string) bool {
	method, _, _ := strings.Cut(stored, "$")
	return method != p.method()
}

func newSalt() (string, error) {
	var b [saltLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = saltAlphabet[int(b[i])%len(saltAlphabet)]
	}
	return string(b[:]), nil
}

// Verify reports whether password matches the stored hash, comparing in constant time.
// It returns ErrMalformed (and false) for a hash it cannot read.
func Verify(stored, password string) (bool, error) {
	h, err := parse(stored)
	if err != nil {
		return false, err
	}
	got, err := h.derive([]byte(password))
	if err != nil {
		return false, ErrMalformed
	}
	return subtle.ConstantTimeCompare(got, h.want) == 1, nil
}

// parsedHash is a stored hash split into its method, cost, salt and digest.
type parsedHash struct {
	scrypt  bool
	n, r, p int              // scrypt
	newHash func() hash.Hash // pbkdf2
	rounds  int              // pbkdf2
	salt    []byte
	want    []byte
}

func parse(stored string) (parsedHash, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 3 {
		return parsedHash{}, ErrMalformed
	}
	h := parsedHash{salt: []byte(parts[1])}
	var err error
	if h.want, err = hex.DecodeString(parts[2]); err != nil || len(h.want) == 0 || len(h.want) > 1024 {
		return parsedHash{}, ErrMalformed
	}
	fields := strings.Split(parts[0], ":")
	switch {
	case fields[0] == "scrypt" && len(fields) == 4:
		h.scrypt = true
		n, errN := strconv.Atoi(fields[1])
		r, errR := strconv.Atoi(fields[2])
		p, errP := strconv.Atoi(fields[3])
		if errN != nil || errR != nil || errP != nil || n < 2 || n > maxScryptN || r < 1 || p < 1 ||
			n*r > maxScryptNR || r*p > maxScryptRP {
			return parsedHash{}, ErrMalformed
		}
		h.n, h.r, h.p = n, r, p
	case fields[0] == "pbkdf2" && len(fields) == 3:
		newHash, ok := pbkdf2Hashes[fields[1]]
		rounds, err := strconv.Atoi(fields[2])
		if !ok || err != nil || rounds < 1 || rounds > maxPBKDF2Rounds {
			return parsedHash{}, ErrMalformed
		}
		h.newHash, h.rounds = newHash, rounds
	default:
		return parsedHash{}, ErrMalformed
	}
	return h, nil
}

func (h parsedHash) derive(password []byte) ([]byte, error) {
	if h.scrypt {
		return scrypt.Key(password, h.salt, h.n, h.r, h.p, len(h.want))
	}
	return pbkdf2.Key(h.newHash, string(password), h.salt, h.rounds, len(h.want))
}

var pbkdf2Hashes = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha256": sha256.New,
	"sha512": sha512.New,
}
