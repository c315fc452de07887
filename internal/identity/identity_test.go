package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/identity"
)

var testNow = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("X", 3*3600))

func mustKeys(t testing.TB, name string) *identity.Keys {
	t.Helper()
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatalf("NewKeys(%q): %v", name, err)
	}
	return k
}

func mustCard(t testing.TB, k *identity.Keys, party string, endpoints []string) *identity.Card {
	t.Helper()
	c, err := identity.NewCard(k, party, endpoints, testNow)
	if err != nil {
		t.Fatalf("NewCard: %v", err)
	}
	return c
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"letter", "a", true},
		{"digit", "7", true},
		{"mixed", "Alpha-7.red_net", true},
		{"64 chars", "a" + strings.Repeat("b", 63), true},
		{"empty", "", false},
		{"65 chars", "a" + strings.Repeat("b", 64), false},
		{"leading dot", ".alpha", false},
		{"leading dash", "-alpha", false},
		{"leading underscore", "_alpha", false},
		{"space", "al pha", false},
		{"slash", "al/pha", false},
		{"plus (note key separator)", "al+pha", false},
		{"newline", "alpha\n", false},
		{"trailing newline only", "alpha\nbeta", false},
		{"non-ASCII letter", "alphä", false},
		{"colon", "a:b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.CheckName("station name", tt.in)
			if got := err == nil; got != tt.ok {
				t.Errorf("CheckName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestNewKeysRejectsBadName(t *testing.T) {
	for _, name := range []string{"", "-x", "a b", "a/b", strings.Repeat("a", 65)} {
		if k, err := identity.NewKeys(name); err == nil {
			t.Errorf("NewKeys(%q) = %v, want error", name, k.Name)
		}
	}
}

func TestNewKeysFresh(t *testing.T) {
	a, b := mustKeys(t, "alpha"), mustKeys(t, "alpha")
	if a.Name != "alpha" {
		t.Errorf("Name = %q, want alpha", a.Name)
	}
	if a.Sign.Equal(b.Sign) {
		t.Error("two NewKeys calls returned the same signing key")
	}
	if bytes.Equal(a.KEM.PublicKey().Bytes(), b.KEM.PublicKey().Bytes()) {
		t.Error("two NewKeys calls returned the same HPKE key")
	}
	if got := len(a.SignPublic()); got != ed25519.PublicKeySize {
		t.Errorf("SignPublic has %d bytes, want %d", got, ed25519.PublicKeySize)
	}
}

func TestSignerVerifies(t *testing.T) {
	k := mustKeys(t, "alpha")
	c := mustCard(t, k, "red", nil)
	v, err := c.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	s := k.Signer()
	if s.Name() != "alpha" || v.Name() != "alpha" {
		t.Errorf("signer/verifier names = %q/%q, want alpha", s.Name(), v.Name())
	}
	if s.KeyHash() != v.KeyHash() {
		t.Errorf("signer key hash %08x != verifier key hash %08x", s.KeyHash(), v.KeyHash())
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("note signed by Signer does not open with card Verifier: %v", err)
	}
	other := mustCard(t, mustKeys(t, "alpha"), "red", nil)
	ov, _ := other.Verifier()
	if _, err := note.Open(msg, note.VerifierList(ov)); err == nil {
		t.Error("note opened with the verifier of another key with the same name")
	}
}

func TestCardRoundTrip(t *testing.T) {
	k := mustKeys(t, "alpha")
	tests := []struct {
		name      string
		party     string
		endpoints []string
	}{
		{"no endpoints", "red", nil},
		{"one endpoint", "red", []string{"alpha.red.example:7443"}},
		{"several endpoints", "red.army_2", []string{"10.0.0.1:7443", "[2001:db8::1]:7443", "tcp://x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCard(t, k, tt.party, tt.endpoints)
			got, err := identity.ParseCard(c.Text)
			if err != nil {
				t.Fatalf("ParseCard: %v", err)
			}
			wantIssued := testNow.UTC().Truncate(time.Second)
			if !c.Issued.Equal(wantIssued) || c.Issued.Location() != time.UTC {
				t.Errorf("NewCard Issued = %v, want %v", c.Issued, wantIssued)
			}
			if got.Name != "alpha" || got.Party != tt.party {
				t.Errorf("name/party = %q/%q, want alpha/%q", got.Name, got.Party, tt.party)
			}
			if !bytes.Equal(got.SignKey, k.SignPublic()) {
				t.Error("SignKey differs from the keys")
			}
			if !bytes.Equal(got.KEMKey, k.KEM.PublicKey().Bytes()) {
				t.Error("KEMKey differs from the keys")
			}
			if !slices.Equal(got.Endpoints, tt.endpoints) {
				t.Errorf("Endpoints = %q, want %q", got.Endpoints, tt.endpoints)
			}
			if !got.Issued.Equal(wantIssued) {
				t.Errorf("Issued = %v, want %v", got.Issued, wantIssued)
			}
			if !bytes.Equal(got.Text, c.Text) {
				t.Error("parsed Text differs from signed Text")
			}
			if got.Fingerprint() != c.Fingerprint() {
				t.Error("fingerprint changed through ParseCard")
			}
			pk, err := got.HPKEKey()
			if err != nil {
				t.Fatalf("HPKEKey: %v", err)
			}
			if !bytes.Equal(pk.Bytes(), k.KEM.PublicKey().Bytes()) {
				t.Error("HPKEKey differs from the keys")
			}
		})
	}
}

func TestParseCardCopiesText(t *testing.T) {
	c := mustCard(t, mustKeys(t, "alpha"), "red", nil)
	in := bytes.Clone(c.Text)
	got, err := identity.ParseCard(in)
	if err != nil {
		t.Fatal(err)
	}
	clear(in)
	if !bytes.Equal(got.Text, c.Text) {
		t.Error("Card.Text aliases the caller's buffer")
	}
}

func TestNewCardRejects(t *testing.T) {
	k := mustKeys(t, "alpha")
	tests := []struct {
		name      string
		party     string
		endpoints []string
	}{
		{"empty party", "", nil},
		{"party with space", "red army", nil},
		{"party with newline", "red\nname evil", nil},
		{"empty endpoint", "red", []string{""}},
		{"endpoint with space", "red", []string{"a b"}},
		{"endpoint with newline", "red", []string{"a:1\nname evil"}},
		{"second endpoint bad", "red", []string{"a:1", "b c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := identity.NewCard(k, tt.party, tt.endpoints, testNow); err == nil {
				t.Fatalf("NewCard = %q, want error", c.Text)
			}
		})
	}
}

// sigsDecodeSame reports whether a and b are the same signed note except
// for how the signature lines spell their base64: the case of a
// non-canonical encoding (nonzero padding bits) that decodes to the same
// bytes.
func sigsDecodeSame(a, b []byte) bool {
	ia, ib := bytes.LastIndex(a, []byte("\n\n")), bytes.LastIndex(b, []byte("\n\n"))
	if ia < 0 || ia != ib || !bytes.Equal(a[:ia], b[:ib]) {
		return false
	}
	la := strings.Split(string(a[ia+2:]), "\n")
	lb := strings.Split(string(b[ib+2:]), "\n")
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		// "— name base64": the base64 follows the last space.
		ja, jb := strings.LastIndexByte(la[i], ' ')+1, strings.LastIndexByte(lb[i], ' ')+1
		na, sa := la[i][:ja], la[i][ja:]
		nb, sb := lb[i][:jb], lb[i][jb:]
		da, ea := base64.StdEncoding.DecodeString(sa)
		db, eb := base64.StdEncoding.DecodeString(sb)
		if na != nb || ea != nil || eb != nil || !bytes.Equal(da, db) {
			return false
		}
	}
	return true
}

func TestParseCardFlippedByte(t *testing.T) {
	c := mustCard(t, mustKeys(t, "alpha"), "red", []string{"alpha.example:7443"})
	sigStart := bytes.LastIndex(c.Text, []byte("\n\n")) + 2
	for i := range c.Text {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			b := bytes.Clone(c.Text)
			b[i] ^= mask
			got, err := identity.ParseCard(b)
			if err == nil {
				where := "body"
				if i >= sigStart {
					where = "signature"
				}
				t.Errorf("flip %#02x at %d (%s, %q -> %q) accepted as card %s", mask, i, where, c.Text[i], b[i], got.Name)
				continue
			}
			if !errors.Is(err, identity.ErrBadCard) {
				t.Errorf("flip %#02x at %d: error %v does not wrap ErrBadCard", mask, i, err)
			}
		}
	}
}

// TestParseCardNonCanonicalSignature checks that a card whose signature
// line is re-spelled with nonzero base64 padding bits is refused: such a
// card has different bytes (and so a different transcript hash) but the
// same decoded signature.
func TestParseCardNonCanonicalSignature(t *testing.T) {
	c := mustCard(t, mustKeys(t, "alpha"), "red", nil)
	b := respellLastSigChar(t, c.Text)
	_, err := identity.ParseCard(b)
	if err == nil {
		t.Fatal("ParseCard accepted a non-canonically encoded signature: a card's bytes would be malleable without its key")
	}
	if !errors.Is(err, identity.ErrBadCard) {
		t.Fatalf("ParseCard = %v, want ErrBadCard", err)
	}
}

// respellLastSigChar changes the last base64 character of the note's last
// signature so that only padding bits differ.
func respellLastSigChar(t *testing.T, text []byte) []byte {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := bytes.Clone(text)
	i := bytes.LastIndexByte(b, '=')
	if i < 1 || b[i-1] == '=' {
		t.Fatalf("signature has no single '=' padding: %q", text)
	}
	v := strings.IndexByte(alphabet, b[i-1])
	b[i-1] = alphabet[v^1]
	if !sigsDecodeSame(text, b) || bytes.Equal(text, b) {
		t.Fatal("respelling changed the decoded signature")
	}
	return b
}

func TestParseCardRejects(t *testing.T) {
	k := mustKeys(t, "alpha")
	good := mustCard(t, k, "red", []string{"a:1"})
	body, _, _ := strings.Cut(string(good.Text), "\n\n")
	body += "\n"
	sign := func(text string, s note.Signer) []byte {
		t.Helper()
		out, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	replace := func(old, new string) []byte {
		t.Helper()
		if !strings.Contains(body, old) {
			t.Fatalf("card body has no %q", old)
		}
		return sign(strings.Replace(body, old, new, 1), k.Signer())
	}
	impostor := mustKeys(t, "alpha") // same name, different key
	other := mustKeys(t, "bravo")
	otherCard := mustCard(t, other, "blue", nil)
	sk := base64.StdEncoding.EncodeToString(k.SignPublic())

	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"body only", []byte(body)},
		{"no blank line", bytes.Replace(good.Text, []byte("\n\n"), []byte("\n"), 1)},
		{"too large", append(bytes.Repeat([]byte("x"), 16<<10), good.Text...)},
		{"wrong header", replace("hotline station card v1", "hotline station card v2")},
		{"unknown line", sign(body+"rank general\n", k.Signer())},
		{"empty line in body", sign(body+" \n", k.Signer())},
		{"bad name", sign(strings.Replace(body, "name alpha", "name al:pha", 1), k.Signer())},
		{"missing party", replace("party red\n", "")},
		{"bad party", replace("party red", "party r d")},
		{"missing sign key", replace("sign-key "+sk+"\n", "")},
		{"sign key bad base64", replace("sign-key "+sk, "sign-key @@@@")},
		{"sign key too short", replace("sign-key "+sk, "sign-key "+base64.StdEncoding.EncodeToString(k.SignPublic()[:31]))},
		{"missing kem key", replace("kem-key "+base64.StdEncoding.EncodeToString(k.KEM.PublicKey().Bytes())+"\n", "")},
		{"kem key truncated", replace("kem-key "+base64.StdEncoding.EncodeToString(k.KEM.PublicKey().Bytes()),
			"kem-key "+base64.StdEncoding.EncodeToString(k.KEM.PublicKey().Bytes()[:100]))},
		{"bad issued", replace("issued "+testNow.UTC().Format(time.RFC3339), "issued yesterday")},
		{"signed by impostor with same name", sign(body, impostor.Signer())},
		{"signed by another station", sign(body, other.Signer())},
		{"sign key swapped for another station's", replace("sign-key "+sk, "sign-key "+base64.StdEncoding.EncodeToString(other.SignPublic()))},
		{"another station's signature appended", append(bytes.Clone([]byte(body)), otherCard.Text[bytes.LastIndex(otherCard.Text, []byte("\n\n"))+1:]...)},
		{"control character", append([]byte("\x01"), good.Text...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := identity.ParseCard(tt.in)
			if !errors.Is(err, identity.ErrBadCard) {
				t.Fatalf("ParseCard = %v, %v; want ErrBadCard", got, err)
			}
		})
	}
}

func TestFingerprintFormat(t *testing.T) {
	re := regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$`)
	for i := range 8 {
		c := mustCard(t, mustKeys(t, "alpha"), "red", nil)
		fp := c.Fingerprint()
		if !re.MatchString(fp) {
			t.Fatalf("fingerprint %q is not 8 groups of 4 base32 characters", fp)
		}
		if got := len(strings.Split(fp, "-")); got != 8 {
			t.Errorf("fingerprint %d has %d groups, want 8", i, got)
		}
	}
}

func TestFingerprintStable(t *testing.T) {
	sk := make([]byte, 32)
	for i := range sk {
		sk[i] = byte(i)
	}
	kk := make([]byte, 1216)
	for i := range kk {
		kk[i] = byte(i * 7)
	}
	// Independent computation of the documented construction.
	independent := func(sk, kk []byte) string {
		sum := sha256.Sum256(slices.Concat([]byte("hotline fingerprint v1\n"), sk, kk))
		s := base32.StdEncoding.EncodeToString(sum[:20])
		return strings.Join([]string{s[0:4], s[4:8], s[8:12], s[12:16], s[16:20], s[20:24], s[24:28], s[28:32]}, "-")
	}
	tests := []struct {
		name   string
		sk, kk []byte
		want   string
	}{
		// Golden values: a change here breaks every pinned peer.
		{"fixed keys", sk, kk, "QVXY-TH2P-L5G5-55VN-L5KK-WGSC-TU3N-R6ZS"},
		{"empty keys", nil, nil, "BFYY-4S7U-SVQ2-N3OP-VVR4-IQRG-YNTK-OECR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identity.Fingerprint(tt.sk, tt.kk); got != tt.want {
				t.Errorf("Fingerprint = %q, want %q", got, tt.want)
			}
			if got := independent(tt.sk, tt.kk); got != tt.want {
				t.Errorf("independent computation = %q, want %q", got, tt.want)
			}
		})
	}

	// Each key contributes.
	base := identity.Fingerprint(sk, kk)
	sk2, kk2 := bytes.Clone(sk), bytes.Clone(kk)
	sk2[0] ^= 1
	kk2[len(kk2)-1] ^= 1
	if identity.Fingerprint(sk2, kk) == base {
		t.Error("fingerprint ignores the signing key")
	}
	if identity.Fingerprint(sk, kk2) == base {
		t.Error("fingerprint ignores the HPKE key")
	}

	// A card's fingerprint is that of its keys, and does not change with
	// the party, endpoints, date or re-signing.
	k := mustKeys(t, "alpha")
	c1 := mustCard(t, k, "red", nil)
	c2, err := identity.NewCard(k, "blue", []string{"x:1"}, testNow.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Fingerprint(k.SignPublic(), k.KEM.PublicKey().Bytes())
	if c1.Fingerprint() != want || c2.Fingerprint() != want {
		t.Errorf("card fingerprints %q, %q, want %q", c1.Fingerprint(), c2.Fingerprint(), want)
	}
	if c3 := mustCard(t, mustKeys(t, "alpha"), "red", nil); c3.Fingerprint() == want {
		t.Error("two different keys have the same fingerprint")
	}
}

func TestSameFingerprint(t *testing.T) {
	const fp = "QVXY-TH2P-L5G5-55VN-L5KK-WGSC-TU3N-R6ZS"
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", fp, fp, true},
		{"lower case", fp, strings.ToLower(fp), true},
		{"mixed case", fp, "qvxy-TH2P-l5g5-55vn-L5KK-wgsc-TU3N-r6zs", true},
		{"no dashes", fp, strings.ReplaceAll(fp, "-", ""), true},
		{"spaces", fp, strings.ReplaceAll(fp, "-", " "), true},
		{"extra spaces and dashes", fp, " QVXY--TH2P L5G5 - 55VN L5KK WGSC TU3N R6ZS ", true},
		{"symmetric", strings.ToLower(fp), fp, true},
		{"one char differs", fp, "QVXY-TH2P-L5G5-55VN-L5KK-WGSC-TU3N-R6ZT", false},
		{"truncated", fp, fp[:len(fp)-5], false},
		{"extra group", fp, fp + "-AAAA", false},
		{"digit vs letter", "AAAA-0000", "AAAA-OOOO", false},
		{"both empty", "", "", false},
		{"both only separators", "- -", "--  ", false},
		{"one empty", fp, "", false},
		{"other empty", "", fp, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identity.SameFingerprint(tt.a, tt.b); got != tt.want {
				t.Errorf("SameFingerprint(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestParseCardOneSpelling: a card's lines come in one order, each once.
func TestParseCardOneSpelling(t *testing.T) {
	c := mustCard(t, mustKeys(t, "alpha"), "red", []string{"a.example:1", "b.example:2"})
	body, sigs, _ := strings.Cut(string(c.Text), "\n\n")
	lines := strings.Split(body, "\n")
	swap := slices.Clone(lines)
	swap[1], swap[2] = swap[2], swap[1]
	dup := append(slices.Clone(lines[:2]), lines[1:]...)
	noIssued := lines[:len(lines)-1]
	for name, ls := range map[string][]string{"reordered": swap, "repeated": dup, "no issued line": noIssued} {
		text := strings.Join(ls, "\n") + "\n\n" + sigs
		if _, err := identity.ParseCard([]byte(text)); !errors.Is(err, identity.ErrBadCard) {
			t.Errorf("%s: ParseCard = %v, want ErrBadCard", name, err)
		}
	}
	if _, err := identity.ParseCard(c.Text); err != nil {
		t.Fatalf("the card as signed: %v", err)
	}
}
