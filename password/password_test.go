package password

import (
	"strings"
	"testing"
)

// Hashes written by werkzeug 3.1 (MLflow's generate_password_hash), so users
// imported from an MLflow database keep their passwords.
var werkzeugHashes = []struct{ hash, password string }{
	{"scrypt:32768:8:1$S59B3Wi4hlyxoOwq$e18a1784a4ac4d200dd3572035bbe9b881920c62fe863c378522b0fb713e02c91283f0b020c8552949bf7d03a7e0b04c76381e395d142292e276b6490dffa790", "correct horse battery"},
	{"pbkdf2:sha256:600000$G00TQpl52LCoUFPX$4acc35fd8a33af3ac980d7cd9c1e35f8bfcda01ad048eaf3bc993c04d280e4c6", "correct horse battery"},
	{"scrypt:1024:8:1$R1gYoVxpQbHuy5uF$b55cac1f6784d09c099c25737c9ce4488785063bcc5715331fed4f1db3e5597571b50c19916287e38cad182c1e2729f1c5f570b6882bc88d3dce78c350ed459f", "pässwörd-ünïcode"},
	{"pbkdf2:sha512:1000$pA13uHTg1Gv4Bgeo$4c42d16a1a90e6a819108b2106fccbd2e8b261f4f2bc0dc8c237ff458150d0207fc74c81a6eb382315ad6db213202bb564257a515890629fd036c83de6a294f0", "short"},
}

func TestVerifyWerkzeugHashes(t *testing.T) {
	for _, c := range werkzeugHashes {
		ok, err := Verify(c.hash, c.password)
		if err != nil || !ok {
			t.Errorf("Verify(%.20s…, right password) = %v, %v; want true", c.hash, ok, err)
		}
		ok, err = Verify(c.hash, c.password+"x")
		if err != nil || ok {
			t.Errorf("Verify(%.20s…, wrong password) = %v, %v; want false", c.hash, ok, err)
		}
	}
}

func TestHashRoundTripAndFormat(t *testing.T) {
	p := Params{N: 1024, R: 8, P: 1}
	h, err := p.Hash("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	if len(parts) != 3 || parts[0] != "scrypt:1024:8:1" || len(parts[1]) != 16 || len(parts[2]) != 128 {
		t.Fatalf("hash %q is not werkzeug's scrypt format", h)
	}
	if ok, err := Verify(h, "a long enough password"); !ok || err != nil {
		t.Fatalf("own hash does not verify: %v %v", ok, err)
	}
	if p.NeedsRehash(h) {
		t.Error("a hash with the current parameters needs no rehash")
	}
	if !p.NeedsRehash(werkzeugHashes[1].hash) || !Default.NeedsRehash(h) {
		t.Error("a hash with other parameters needs a rehash")
	}
	h2, _ := p.Hash("a long enough password")
	if h2 == h {
		t.Error("two hashes of one password share a salt")
	}
}

func TestVerifyRejectsMalformedAndHostileHashes(t *testing.T) {
	for _, h := range []string{
		"", "nodollars", "a$b", "a$b$c$d", "scrypt:1024:8:1$salt$nothex", "scrypt:1024:8:1$salt$",
		"md5$salt$00", "scrypt:1024:8$salt$00", "scrypt:x:8:1$salt$00",
		"scrypt:1073741824:8:1$salt$00", // 2^30: would need a terabyte
		"scrypt:1024:100:100$salt$00", "pbkdf2:sha256:999999999$salt$00", "pbkdf2:md4:1000$salt$00",
		"pbkdf2:sha256$salt$00",
	} {
		if ok, err := Verify(h, "pw"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", h, ok, err)
		}
	}
}

// FuzzParse feeds arbitrary stored hashes to the parser: it must never panic, and
// what it accepts stays within the cost limits.
func FuzzParse(f *testing.F) {
	for _, c := range werkzeugHashes {
		f.Add(c.hash)
	}
	f.Add("scrypt:2:1:1$$00")
	f.Fuzz(func(t *testing.T, stored string) {
		h, err := parse(stored)
		if err != nil {
			return
		}
		if h.scrypt && (h.n*h.r > maxScryptNR || h.r*h.p > maxScryptRP) || !h.scrypt && h.rounds > maxPBKDF2Rounds {
			t.Fatalf("parse accepted a hash beyond the cost limits: %q", stored)
		}
	})
}

// BenchmarkVerify is the cost every authenticated request pays today.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name string
		hash string
	}{{"scrypt-32768-8-1", werkzeugHashes[0].hash}, {"pbkdf2-sha256-600000", werkzeugHashes[1].hash}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if ok, _ := Verify(c.hash, "correct horse battery"); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
