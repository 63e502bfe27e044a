package ws

// This file holds the peer handshake that follows the WebSocket upgrade. It
// is platform independent (no WebSocket import): it turns received bytes
// into bytes to send, so the native transport and a browser member run the
// same code.
//
// The handshake proves to each side that the other holds the cluster token,
// without the token ever crossing the wire, and binds the connection to one
// member id on each end. It matters for safety, not only access: a single
// forged MsgHeartbeat with a commit beyond the receiver's log panics raft
// (log.go commitTo), so nothing reaches raft before this succeeds.
//
//	server -> client  hello   {version, cluster id, server id, server's largest
//	                           message, server nonce}
//	client -> server  answer  {version, cluster id, client id, client's largest
//	                           message, client nonce,
//	                           HMAC(token, "...client" || hello || answer minus MAC)}
//	server -> client  welcome {version, HMAC(token, "...server" || hello || answer)}
//	                  or reject {version, code} and the server closes
//
// Each MAC covers the whole transcript so far, including the other side's
// fresh nonce, so a recorded answer or welcome is useless on another
// connection; the two MACs use different labels so one side's MAC can never
// be reflected back as the other's. Each side announces the largest message
// it accepts, so a sender never sends what its peer would refuse (members
// may be configured differently: a browser tab may accept less).

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// HandshakeVersion is the version of the handshake and of the frames the
// connection then carries.
const HandshakeVersion = 1

// Handshake message layouts, every field fixed width: a message of any other
// length is refused before it is looked at.
const (
	nonceSize = 32
	macSize   = sha256.Size

	// magic(2) kind(1) version(1)
	hsPrefixSize = 4
	// prefix, cluster id, server id, largest message, server nonce
	helloSize = hsPrefixSize + 8 + 8 + 4 + nonceSize
	// prefix, cluster id, client id, largest message, client nonce, MAC
	answerSize = hsPrefixSize + 8 + 8 + 4 + nonceSize + macSize
	// prefix, MAC
	welcomeSize = hsPrefixSize + macSize
	// prefix, reason code
	rejectSize = hsPrefixSize + 1

	// MaxHandshakeMessageBytes is the read limit while handshaking.
	MaxHandshakeMessageBytes = answerSize
)

const (
	kindHello   = 1
	kindAnswer  = 2
	kindWelcome = 3
	kindReject  = 4
)

var hsMagic = [2]byte{'R', 'H'}

// The labels separate the two MACs from each other and from any other use
// of the token.
const (
	clientLabel = "raftlab transport/ws handshake v1 client\x00"
	serverLabel = "raftlab transport/ws handshake v1 server\x00"
)

// Handshake errors. A refusal received from the server wraps the reason the
// server gave, so errors.Is(err, ErrBadToken) holds on both ends.
var (
	// ErrBadToken: the other side's MAC is wrong: it does not hold our
	// cluster token (or it tampered with the transcript).
	ErrBadToken = errors.New("ws: peer does not hold the cluster token")
	// ErrWrongCluster: the other side belongs to another cluster.
	ErrWrongCluster = errors.New("ws: peer belongs to another cluster")
	// ErrUnknownPeer: the server does not accept the client's member id (0,
	// its own, or refused by AcceptPeer).
	ErrUnknownPeer = errors.New("ws: peer id not accepted")
	// ErrUnexpectedPeer: the server is not the member the client dialed.
	ErrUnexpectedPeer = errors.New("ws: peer is not the member dialed")
	// ErrHandshakeVersion: the other side speaks another version.
	ErrHandshakeVersion = errors.New("ws: unsupported handshake version")
	// ErrBadHandshake: a handshake message is malformed.
	ErrBadHandshake = errors.New("ws: malformed handshake message")
	// ErrRefused: the server refused for a reason we cannot name.
	ErrRefused = errors.New("ws: refused by peer")
)

// rejectCodes name a refusal on the wire. Codes are never reused.
var rejectCodes = []struct {
	code byte
	err  error
}{
	{1, ErrBadToken},
	{2, ErrWrongCluster},
	{3, ErrUnknownPeer},
	{4, ErrHandshakeVersion},
	{5, ErrBadHandshake},
}

// Member is one end of a handshake: who it is, the secret it proves it
// holds, and the largest message it accepts.
type Member struct {
	ClusterID, ID uint64
	Token         string
	// MaxMessageBytes is announced to the peer; 0 means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
}

// Peer is the other end of a handshake, as the handshake proved it.
type Peer struct {
	ID uint64
	// MaxMessageBytes is the largest message the peer accepts.
	MaxMessageBytes int
}

func (m Member) check() error {
	if m.Token == "" {
		return errors.New("ws: empty cluster token")
	}
	if m.ID == 0 {
		return errors.New("ws: member id 0")
	}
	if m.MaxMessageBytes != 0 && (m.MaxMessageBytes < MinMessageBytesLimit || m.MaxMessageBytes > MaxMessageBytesLimit) {
		return fmt.Errorf("ws: MaxMessageBytes %d out of [%d, %d]", m.MaxMessageBytes, MinMessageBytesLimit, MaxMessageBytesLimit)
	}
	return nil
}

func (m Member) maxMessageBytes() uint32 {
	if m.MaxMessageBytes == 0 {
		return DefaultMaxMessageBytes
	}
	return uint32(m.MaxMessageBytes)
}

// readMax reads an announced message limit, refusing one no member could
// be configured with.
func readMax(b []byte) (int, error) {
	n := binary.BigEndian.Uint32(b)
	if n < MinMessageBytesLimit || n > MaxMessageBytesLimit {
		return 0, fmt.Errorf("%w: largest message %d", ErrBadHandshake, n)
	}
	return int(n), nil
}

// ServerHandshake is the accepting side of one handshake.
type ServerHandshake struct {
	cred   Member
	accept func(id uint64) bool
	hello  []byte
}

// NewServerHandshake starts a handshake with a fresh nonce. accept decides
// which client ids may connect; nil accepts any id but 0 and our own.
func NewServerHandshake(cred Member, accept func(id uint64) bool) (*ServerHandshake, error) {
	if err := cred.check(); err != nil {
		return nil, err
	}
	hello := make([]byte, 0, helloSize)
	hello = appendPrefix(hello, kindHello)
	hello = binary.BigEndian.AppendUint64(hello, cred.ClusterID)
	hello = binary.BigEndian.AppendUint64(hello, cred.ID)
	hello = binary.BigEndian.AppendUint32(hello, cred.maxMessageBytes())
	hello = hello[:helloSize]
	if _, err := rand.Read(hello[helloSize-nonceSize:]); err != nil {
		return nil, fmt.Errorf("ws: nonce: %w", err)
	}
	return &ServerHandshake{cred: cred, accept: accept, hello: hello}, nil
}

// Hello returns the first message, to send as soon as the connection opens.
func (s *ServerHandshake) Hello() []byte { return s.hello }

// Verify checks the client's answer. On success it returns the client,
// authenticated, and the welcome to send back; on failure, the reason, for
// which Reject gives the message to send before closing.
func (s *ServerHandshake) Verify(answer []byte) (client Peer, welcome []byte, err error) {
	if err := checkPrefix(answer, kindAnswer, answerSize); err != nil {
		return Peer{}, nil, err
	}
	clusterID := binary.BigEndian.Uint64(answer[4:])
	clientID := binary.BigEndian.Uint64(answer[12:])
	mac := answer[answerSize-macSize:]
	// The cluster id first: two clusters sharing a token is a
	// misconfiguration worth naming, and the id is no secret.
	if clusterID != s.cred.ClusterID {
		return Peer{}, nil, fmt.Errorf("%w: %d, ours %d", ErrWrongCluster, clusterID, s.cred.ClusterID)
	}
	want := transcriptMAC(s.cred.Token, clientLabel, s.hello, answer[:answerSize-macSize])
	if !hmac.Equal(mac, want) {
		return Peer{}, nil, ErrBadToken
	}
	maxBytes, err := readMax(answer[20:])
	if err != nil {
		return Peer{}, nil, err
	}
	// Ids are checked after the MAC, so only a token holder learns which
	// ids we accept.
	if clientID == 0 || clientID == s.cred.ID || (s.accept != nil && !s.accept(clientID)) {
		return Peer{}, nil, fmt.Errorf("%w: %d", ErrUnknownPeer, clientID)
	}
	welcome = make([]byte, 0, welcomeSize)
	welcome = appendPrefix(welcome, kindWelcome)
	welcome = append(welcome, transcriptMAC(s.cred.Token, serverLabel, s.hello, answer)...)
	return Peer{ID: clientID, MaxMessageBytes: maxBytes}, welcome, nil
}

// ClientHandshake is the dialing side of one handshake.
type ClientHandshake struct {
	cred     Member
	serverID uint64
	// server is the server as its hello describes it.
	server Peer
	// transcript is hello || answer once Answer succeeded.
	transcript []byte
}

// NewClientHandshake prepares a handshake with the member serverID (0:
// whichever member answers, when the dialer does not know the id yet).
func NewClientHandshake(cred Member, serverID uint64) (*ClientHandshake, error) {
	if err := cred.check(); err != nil {
		return nil, err
	}
	return &ClientHandshake{cred: cred, serverID: serverID}, nil
}

// Answer checks the server's hello and returns the answer to send, with a
// fresh nonce.
func (c *ClientHandshake) Answer(hello []byte) ([]byte, error) {
	if c.transcript != nil {
		return nil, fmt.Errorf("%w: second hello", ErrBadHandshake)
	}
	if err := checkPrefix(hello, kindHello, helloSize); err != nil {
		return nil, err
	}
	clusterID := binary.BigEndian.Uint64(hello[4:])
	serverID := binary.BigEndian.Uint64(hello[12:])
	if clusterID != c.cred.ClusterID {
		return nil, fmt.Errorf("%w: %d, ours %d", ErrWrongCluster, clusterID, c.cred.ClusterID)
	}
	if serverID == 0 || serverID == c.cred.ID || (c.serverID != 0 && serverID != c.serverID) {
		return nil, fmt.Errorf("%w: %d, dialed %d", ErrUnexpectedPeer, serverID, c.serverID)
	}
	maxBytes, err := readMax(hello[20:])
	if err != nil {
		return nil, err
	}
	t := make([]byte, 0, helloSize+answerSize)
	t = append(t, hello...)
	t = appendPrefix(t, kindAnswer)
	t = binary.BigEndian.AppendUint64(t, c.cred.ClusterID)
	t = binary.BigEndian.AppendUint64(t, c.cred.ID)
	t = binary.BigEndian.AppendUint32(t, c.cred.maxMessageBytes())
	t = t[:len(t)+nonceSize]
	if _, err := rand.Read(t[len(t)-nonceSize:]); err != nil {
		return nil, fmt.Errorf("ws: nonce: %w", err)
	}
	t = append(t, transcriptMAC(c.cred.Token, clientLabel, t[:helloSize], t[helloSize:])...)
	c.serverID = serverID
	c.server = Peer{ID: serverID, MaxMessageBytes: maxBytes}
	c.transcript = t
	return t[helloSize:], nil
}

// Server returns the server as its hello described it: known once Answer
// succeeded, proven once Verify did.
func (c *ClientHandshake) Server() Peer { return c.server }

// Verify checks the server's last message: its MAC over the transcript, or
// the reason it refused us.
func (c *ClientHandshake) Verify(msg []byte) error {
	if c.transcript == nil {
		return fmt.Errorf("%w: welcome before hello", ErrBadHandshake)
	}
	if err := checkPrefix(msg, kindWelcome, welcomeSize); err != nil {
		return err
	}
	want := transcriptMAC(c.cred.Token, serverLabel, c.transcript[:helloSize], c.transcript[helloSize:])
	if !hmac.Equal(msg[hsPrefixSize:], want) {
		return ErrBadToken
	}
	return nil
}

// Reject returns the message telling the client why the server refuses it.
// The reason is a hint for the operator: the connection closes either way,
// and the message proves nothing.
func Reject(reason error) []byte {
	code := byte(0)
	for _, rc := range rejectCodes {
		if errors.Is(reason, rc.err) {
			code = rc.code
			break
		}
	}
	return append(appendPrefix(make([]byte, 0, rejectSize), kindReject), code)
}

// appendPrefix appends a handshake message's magic, kind and version.
func appendPrefix(b []byte, kind byte) []byte {
	return append(b, hsMagic[0], hsMagic[1], kind, HandshakeVersion)
}

// checkPrefix checks that msg is a handshake message of kind and size. A
// reject in its place becomes the server's reason.
func checkPrefix(msg []byte, kind byte, size int) error {
	if len(msg) < hsPrefixSize || msg[0] != hsMagic[0] || msg[1] != hsMagic[1] {
		return fmt.Errorf("%w: no handshake magic", ErrBadHandshake)
	}
	if msg[3] != HandshakeVersion {
		return fmt.Errorf("%w: %d, ours %d", ErrHandshakeVersion, msg[3], HandshakeVersion)
	}
	if msg[2] == kindReject && kind != kindAnswer {
		if len(msg) != rejectSize {
			return fmt.Errorf("%w: reject of %d bytes", ErrBadHandshake, len(msg))
		}
		for _, rc := range rejectCodes {
			if rc.code == msg[4] {
				return fmt.Errorf("%w: %w", ErrRefused, rc.err)
			}
		}
		return fmt.Errorf("%w: code %d", ErrRefused, msg[4])
	}
	if msg[2] != kind {
		return fmt.Errorf("%w: kind %d, want %d", ErrBadHandshake, msg[2], kind)
	}
	if len(msg) != size {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadHandshake, len(msg), size)
	}
	return nil
}

// transcriptMAC is HMAC-SHA256 under the token of label || parts. The
// labels are fixed and every message has a fixed size, so the
// concatenation is unambiguous.
func transcriptMAC(token, label string, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, []byte(token))
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}
