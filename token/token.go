// Package token makes and reads access tokens: "mla_", a 256-bit random secret
// in base62 and a CRC32 checksum of the secret, so that secret scanners can find
// leaked tokens and a mistyped one is refused before any database lookup.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
	"strings"
)

// Prefix starts every token.
const Prefix = "mla_"

const (
	alphabet    = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" // big.Int's base 62
	secretBytes = 32                                                               // 256 bits
	secretChars = 43                                                               // 62^43 > 2^256
	sumChars    = 6                                                                // 62^6 > 2^32
	// Len is the length of every token.
	Len = len(Prefix) + secretChars + sumChars
)

// Hash is what is stored of a token: SHA-256 of its secret. A fast hash is
// enough because the secret has full entropy; nothing can be guessed from it.
type Hash [sha256.Size]byte

// New returns a fresh token and its hash.
func New() (string, Hash) {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails (crypto/rand crashes the program instead)
	secret := base62(new(big.Int).SetBytes(b), secretChars)
	return Prefix + secret + checksum(secret), sha256.Sum256([]byte(secret))
}

// Parse returns the hash of a well-formed token; ok is false for anything else,
// including a token with a wrong checksum (mistyped or made up).
func Parse(s string) (h Hash, ok bool) {
	secret, ok := strings.CutPrefix(s, Prefix)
	if !ok || len(s) != Len || strings.Trim(s[len(Prefix):], alphabet) != "" {
		return Hash{}, false
	}
	secret, sum := secret[:secretChars], secret[secretChars:]
	if checksum(secret) != sum {
		return Hash{}, false
	}
	return sha256.Sum256([]byte(secret)), true
}

// Resembles reports whether s holds what may be a token, well-formed or not:
// the prefix followed by at least half a secret's characters (a token with a
// space or a newline around it, mistyped, cut short). Such text is not to be
// logged or kept, as a token is not.
func Resembles(s string) bool {
	for i := strings.Index(s, Prefix); i >= 0; i = strings.Index(s, Prefix) {
		s = s[i+len(Prefix):]
		run := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(alphabet, r) })
		if run < 0 {
			run = len(s)
		}
		if run >= secretChars/2 {
			return true
		}
	}
	return false
}

func checksum(secret string) string {
	return base62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(secret)))), sumChars)
}

// base62 writes n in exactly width digits, zeros in front.
func base62(n *big.Int, width int) string {
	s := n.Text(62)
	return strings.Repeat("0", width-len(s)) + s
}
