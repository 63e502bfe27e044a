package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

var (
	credA = Member{ClusterID: 0xc1, ID: 1, Token: "s3cret-token"}
	credB = Member{ClusterID: 0xc1, ID: 2, Token: "s3cret-token"}
)

// handshake runs a whole handshake in memory: client dials server
// expecting serverID. It returns each side's error and the messages.
type handshakeRun struct {
	client                   Peer // as the server authenticated it
	serverErr, clientErr     error
	hello, answer, lastReply []byte
}

func runHandshake(t *testing.T, server, client Member, accept func(uint64) bool, serverID uint64) handshakeRun {
	t.Helper()
	var r handshakeRun
	s, err := NewServerHandshake(server, accept)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClientHandshake(client, serverID)
	if err != nil {
		t.Fatal(err)
	}
	r.hello = s.Hello()
	r.answer, r.clientErr = c.Answer(r.hello)
	if r.clientErr != nil {
		return r
	}
	var welcome []byte
	r.client, welcome, r.serverErr = s.Verify(r.answer)
	r.lastReply = welcome
	if r.serverErr != nil {
		r.lastReply = Reject(r.serverErr)
	}
	r.clientErr = c.Verify(r.lastReply)
	return r
}

func TestHandshakeSucceeds(t *testing.T) {
	r := runHandshake(t, credA, credB, nil, 1)
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("server %v, client %v", r.serverErr, r.clientErr)
	}
	if r.client != (Peer{ID: 2, MaxMessageBytes: DefaultMaxMessageBytes}) {
		t.Fatalf("server authenticated client %+v", r.client)
	}
	// A client that does not know whom it dials learns the id; each side
	// learns the other's message limit.
	a, b := credA, credB
	a.MaxMessageBytes, b.MaxMessageBytes = 4096, 1<<30
	s, _ := NewServerHandshake(a, nil)
	c, _ := NewClientHandshake(b, 0)
	answer, err := c.Answer(s.Hello())
	if err != nil || c.Server() != (Peer{ID: 1, MaxMessageBytes: 4096}) {
		t.Fatalf("server %+v, %v", c.Server(), err)
	}
	if p, _, err := s.Verify(answer); err != nil || p != (Peer{ID: 2, MaxMessageBytes: 1 << 30}) {
		t.Fatalf("client %+v, %v", p, err)
	}
}

func TestHandshakeNeverSendsToken(t *testing.T) {
	cred := func(c Member) Member { c.Token = "TOKEN-0123456789"; return c }
	r := runHandshake(t, cred(credA), cred(credB), nil, 1)
	for _, m := range [][]byte{r.hello, r.answer, r.lastReply} {
		if bytes.Contains(m, []byte("TOKEN")) {
			t.Fatalf("token on the wire: %q", m)
		}
	}
	// Fresh nonces each time: two handshakes share no message.
	r2 := runHandshake(t, cred(credA), cred(credB), nil, 1)
	if bytes.Equal(r.hello, r2.hello) || bytes.Equal(r.answer, r2.answer) || bytes.Equal(r.lastReply, r2.lastReply) {
		t.Fatal("a handshake message repeated")
	}
}

func TestHandshakeRefusals(t *testing.T) {
	wrongToken := credB
	wrongToken.Token = "guess"
	otherCluster := credB
	otherCluster.ClusterID = 0xc2
	for _, tc := range []struct {
		name              string
		client            Member
		accept            func(uint64) bool
		serverID          uint64
		serverErr, cliErr error
	}{
		{"wrong token", wrongToken, nil, 1, ErrBadToken, ErrBadToken},
		{"other cluster", otherCluster, nil, 1, nil, ErrWrongCluster},
		{"refused by AcceptPeer", credB, func(id uint64) bool { return id != 2 }, 1, ErrUnknownPeer, ErrUnknownPeer},
		{"accepted by AcceptPeer", credB, func(id uint64) bool { return id == 2 }, 1, nil, nil},
		{"not the member dialed", credB, nil, 3, nil, ErrUnexpectedPeer},
		{"dialing ourselves", credA, nil, 0, nil, ErrUnexpectedPeer},
	} {
		r := runHandshake(t, credA, tc.client, tc.accept, tc.serverID)
		if !errors.Is(r.serverErr, tc.serverErr) || (tc.serverErr == nil) != (r.serverErr == nil) {
			t.Errorf("%s: server %v, want %v", tc.name, r.serverErr, tc.serverErr)
		}
		if !errors.Is(r.clientErr, tc.cliErr) || (tc.cliErr == nil) != (r.clientErr == nil) {
			t.Errorf("%s: client %v, want %v", tc.name, r.clientErr, tc.cliErr)
		}
		if r.serverErr != nil && !errors.Is(r.clientErr, ErrRefused) {
			t.Errorf("%s: client does not see the refusal: %v", tc.name, r.clientErr)
		}
	}
}

// forgeAnswer builds an answer to hello as a client with the given fields
// would, bypassing the client's own checks.
func forgeAnswer(hello []byte, token string, clusterID, clientID uint64) []byte {
	return forgeAnswerMax(hello, token, clusterID, clientID, DefaultMaxMessageBytes)
}

func forgeAnswerMax(hello []byte, token string, clusterID, clientID uint64, max uint32) []byte {
	a := appendPrefix(nil, kindAnswer)
	a = binary.BigEndian.AppendUint64(a, clusterID)
	a = binary.BigEndian.AppendUint64(a, clientID)
	a = binary.BigEndian.AppendUint32(a, max)
	a = append(a, make([]byte, nonceSize)...)
	return append(a, transcriptMAC(token, clientLabel, hello, a)...)
}

func TestServerChecksForgedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		token     string
		clusterID uint64
		clientID  uint64
		want      error
	}{
		{"valid", credA.Token, credA.ClusterID, 2, nil},
		{"client id 0", credA.Token, credA.ClusterID, 0, ErrUnknownPeer},
		{"client id = server id", credA.Token, credA.ClusterID, 1, ErrUnknownPeer},
		{"wrong cluster", credA.Token, 0xc2, 2, ErrWrongCluster},
		{"wrong token", "x", credA.ClusterID, 2, ErrBadToken},
	} {
		s, _ := NewServerHandshake(credA, nil)
		_, _, err := s.Verify(forgeAnswer(s.Hello(), tc.token, tc.clusterID, tc.clientID))
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// A message limit no member could have is refused, even under a valid
// MAC: it would make the other side refuse everything, or accept anything.
func TestHandshakeRefusesAbsurdLimits(t *testing.T) {
	for _, max := range []uint32{0, MinMessageBytesLimit - 1, MaxMessageBytesLimit + 1, 1<<32 - 1} {
		s, _ := NewServerHandshake(credA, nil)
		if _, _, err := s.Verify(forgeAnswerMax(s.Hello(), credA.Token, credA.ClusterID, 2, max)); !errors.Is(err, ErrBadHandshake) {
			t.Errorf("answer with limit %d: %v", max, err)
		}
		hello := bytes.Clone(s.Hello())
		binary.BigEndian.PutUint32(hello[20:], max)
		c, _ := NewClientHandshake(credB, 1)
		if _, err := c.Answer(hello); !errors.Is(err, ErrBadHandshake) {
			t.Errorf("hello with limit %d: %v", max, err)
		}
	}
	for _, max := range []int{-1, MinMessageBytesLimit - 1, MaxMessageBytesLimit + 1} {
		m := credA
		m.MaxMessageBytes = max
		if _, err := NewServerHandshake(m, nil); err == nil {
			t.Errorf("member with limit %d accepted", max)
		}
	}
}

func TestHandshakeReplayAndReflection(t *testing.T) {
	r := runHandshake(t, credA, credB, nil, 1)
	// An answer recorded on one connection fails on the next: the server's
	// nonce is new.
	s, _ := NewServerHandshake(credA, nil)
	if _, _, err := s.Verify(r.answer); !errors.Is(err, ErrBadToken) {
		t.Fatalf("replayed answer: %v", err)
	}
	// A recorded welcome fails for a new client nonce.
	s2, _ := NewServerHandshake(credA, nil)
	c, _ := NewClientHandshake(credB, 1)
	if _, err := c.Answer(s2.Hello()); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(r.lastReply); !errors.Is(err, ErrBadToken) {
		t.Fatalf("replayed welcome: %v", err)
	}
	// A server without the token cannot answer with the client's own MAC
	// (the labels differ).
	s3, _ := NewServerHandshake(credA, nil)
	c3, _ := NewClientHandshake(credB, 1)
	answer, _ := c3.Answer(s3.Hello())
	reflected := append(appendPrefix(nil, kindWelcome), answer[len(answer)-macSize:]...)
	if err := c3.Verify(reflected); !errors.Is(err, ErrBadToken) {
		t.Fatalf("reflected MAC: %v", err)
	}
	// Nor with a MAC under another token.
	forged := append(appendPrefix(nil, kindWelcome), transcriptMAC("guess", serverLabel, s3.Hello(), answer)...)
	if err := c3.Verify(forged); !errors.Is(err, ErrBadToken) {
		t.Fatalf("server without the token: %v", err)
	}
}

// Every single-bit change to any handshake message is refused.
func TestHandshakeTamper(t *testing.T) {
	for i := range answerSize * 8 {
		s, _ := NewServerHandshake(credA, nil)
		c, _ := NewClientHandshake(credB, 1)
		answer, err := c.Answer(s.Hello())
		if err != nil {
			t.Fatal(err)
		}
		answer[i/8] ^= 1 << (i % 8)
		if _, _, err := s.Verify(answer); err == nil {
			t.Fatalf("answer with bit %d flipped accepted", i)
		}
	}
	for i := range helloSize * 8 {
		s, _ := NewServerHandshake(credA, nil)
		c, _ := NewClientHandshake(credB, 1)
		hello := bytes.Clone(s.Hello())
		hello[i/8] ^= 1 << (i % 8)
		answer, err := c.Answer(hello)
		if err != nil {
			continue // refused at once
		}
		if _, _, err := s.Verify(answer); err == nil {
			t.Fatalf("hello with bit %d flipped: handshake succeeded", i)
		}
	}
	for i := range welcomeSize * 8 {
		s, _ := NewServerHandshake(credA, nil)
		c, _ := NewClientHandshake(credB, 1)
		answer, _ := c.Answer(s.Hello())
		_, welcome, err := s.Verify(answer)
		if err != nil {
			t.Fatal(err)
		}
		welcome[i/8] ^= 1 << (i % 8)
		if err := c.Verify(welcome); err == nil {
			t.Fatalf("welcome with bit %d flipped accepted", i)
		}
	}
}

func TestHandshakeMalformed(t *testing.T) {
	s, _ := NewServerHandshake(credA, nil)
	c, _ := NewClientHandshake(credB, 1)
	hello := s.Hello()
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrBadHandshake},
		{"magic", append([]byte("XX"), hello[2:]...), ErrBadHandshake},
		{"version", append(bytes.Clone(hello[:3]), append([]byte{9}, hello[4:]...)...), ErrHandshakeVersion},
		{"short", hello[:len(hello)-1], ErrBadHandshake},
		{"long", append(bytes.Clone(hello), 0), ErrBadHandshake},
		{"wrong kind", appendPrefix(nil, kindWelcome), ErrBadHandshake},
		{"reject bad size", append(Reject(ErrBadToken), 0), ErrBadHandshake},
		{"reject unknown code", append(appendPrefix(nil, kindReject), 200), ErrRefused},
	} {
		if _, err := c.Answer(tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("client Answer %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A reject is never a valid answer.
	if _, _, err := s.Verify(Reject(ErrBadToken)); !errors.Is(err, ErrBadHandshake) {
		t.Errorf("server Verify of a reject: %v", err)
	}
	if err := c.Verify(nil); !errors.Is(err, ErrBadHandshake) {
		t.Errorf("Verify before Answer: %v", err)
	}
	if _, err := NewServerHandshake(Member{ID: 1}, nil); err == nil {
		t.Error("empty token accepted")
	}
	if _, err := NewClientHandshake(Member{Token: "x"}, 1); err == nil {
		t.Error("id 0 accepted")
	}
}

// FuzzHandshake feeds arbitrary bytes to the three decoders of peer input:
// the server's Verify, and the client's Answer and Verify. None may panic,
// and none may accept anything but the one genuine message.
func FuzzHandshake(f *testing.F) {
	s, _ := NewServerHandshake(credA, nil)
	c, _ := NewClientHandshake(credB, 1)
	answer, _ := c.Answer(s.Hello())
	_, welcome, _ := s.Verify(answer)
	f.Add(s.Hello())
	f.Add(answer)
	f.Add(welcome)
	f.Add(Reject(ErrBadToken))
	f.Add(forgeAnswer(s.Hello(), credA.Token, credA.ClusterID, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := NewServerHandshake(credA, nil)
		c, _ := NewClientHandshake(credB, 1)
		answer, err := c.Answer(s.Hello())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Verify(data); err == nil && !bytes.Equal(data, answer) {
			t.Fatalf("server accepted a forged answer %x", data)
		}
		if err := c.Verify(data); err == nil {
			t.Fatalf("client accepted a forged welcome %x", data)
		}
		c2, _ := NewClientHandshake(credB, 1)
		if a, err := c2.Answer(data); err == nil {
			if len(a) != answerSize || binary.BigEndian.Uint64(data[12:]) != 1 {
				t.Fatalf("client answered a bad hello %x", data)
			}
		}
	})
}
