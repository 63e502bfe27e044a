//go:build !js

package ws

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const (
	// socketBufferBytes sizes gorilla's read and write buffers: a frame of
	// a few hundred messages fits one buffer.
	socketBufferBytes = 64 << 10
	// maxBatchBytes caps a frame built from queued messages: large enough
	// to amortize a write over thousands of small messages, small enough
	// that one frame does not hold the link for long.
	maxBatchBytes = 1 << 20
	// maxBatchMessages caps the messages of one frame.
	maxBatchMessages = 4096
	// keptReadBufferBytes: a reader that grew its buffer past this for one
	// large message (a snapshot) lets it go rather than pin it.
	keptReadBufferBytes = 1 << 20
	// closeWait bounds a goodbye: writing a close frame, and waiting for
	// the peer's close after refusing its frame, so that it reads our
	// reason rather than a reset.
	closeWait = time.Second
)

// WebSocket close codes the transport uses besides the standard ones.
const (
	closeGoingAway = websocket.CloseGoingAway
	// closeDuplicate retires a connection: the pair keeps another one
	// (keepNew). Whoever receives it flushes what it queued on the
	// connection and answers with the same code.
	closeDuplicate = 4000
)

// conn is one authenticated WebSocket connection to a peer. It carries
// messages both ways: readLoop delivers what the peer sends, writeLoop
// drains the connection's queue.
//
// A connection is current (the peer's conn: Send queues on it), then
// possibly retiring (replaced by a connection keepNew prefers: its writer
// flushes the queue and sends closeDuplicate, its reader delivers until the
// peer's own closeDuplicate), then shut down (socket closed, what is left
// in the queue dropped, detached).
type conn struct {
	t      *Transport
	ws     *websocket.Conn
	peerID uint64
	// sendLimit is the largest message we send on it: the smaller of our
	// MaxMessageBytes and the peer's. batchBytes caps a frame of several
	// messages: within both, so any frame fits the peer's read limit.
	sendLimit, batchBytes int
	// dialedBy is the member that dialed: keepNew's input.
	dialedBy uint64
	since    time.Time

	// p and queue are set by attach. queue holds the messages for the
	// peer until the writer takes them; bounded by Config.QueueSize. It
	// belongs to the connection, not the peer, so that the writer of a
	// connection being replaced never takes messages meant for its
	// successor.
	p     *peer
	queue chan Envelope

	// retiring is closed by retire.
	retiring   chan struct{}
	retireOnce sync.Once
	// writerDone is closed when writeLoop returns.
	writerDone chan struct{}
	// done is closed when the connection starts shutting down.
	done chan struct{}
	once sync.Once

	// deadlineMu orders the reader's deadline updates with retire's.
	deadlineMu   sync.Mutex
	retireBy     time.Time
	readDeadline time.Time // as last set by touch
}

func newConn(t *Transport, ws *websocket.Conn, peer Peer, dialedBy uint64) *conn {
	limit := min(t.cfg.MaxMessageBytes, peer.MaxMessageBytes)
	return &conn{
		t: t, ws: ws, peerID: peer.ID, sendLimit: limit, batchBytes: min(limit, maxBatchBytes),
		dialedBy: dialedBy, since: time.Now(),
		retiring: make(chan struct{}), writerDone: make(chan struct{}), done: make(chan struct{}),
	}
}

// retire stops using the connection for new messages without losing what
// is under way: it leaves the peer (if still its connection), and the
// writer flushes the queue and says goodbye. The reader keeps delivering
// until the peer's goodbye, within a bounded time.
func (c *conn) retire() {
	c.retireOnce.Do(func() {
		t := c.t
		t.mu.Lock()
		if c.p.conn.Load() == c {
			// The peer retired it: a connection it prefers is on its
			// way. Not a loss, so no ReportUnreachable; Send drops
			// (and reports) until it arrives.
			c.p.conn.Store(nil)
			c.p.handover = true
			c.p.signal()
		}
		t.mu.Unlock()
		c.deadlineMu.Lock()
		c.retireBy = time.Now().Add(closeWait + t.cfg.WriteTimeout)
		c.ws.SetReadDeadline(c.retireBy)
		c.deadlineMu.Unlock()
		close(c.retiring)
	})
}

// touch moves the read deadline: PongTimeout from now, or the retirement
// deadline if sooner. Moving a deadline costs a timer update, so a deadline
// that still has most of PongTimeout to run is left alone: a silent peer
// is then detected after between 7/8 and all of PongTimeout.
func (c *conn) touch() error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	now := time.Now()
	d := now.Add(c.t.cfg.PongTimeout)
	if !c.retireBy.IsZero() {
		if c.retireBy.Before(d) {
			d = c.retireBy
		}
	} else if c.readDeadline.Sub(now) > c.t.cfg.PongTimeout-c.t.cfg.PongTimeout/8 {
		return nil
	}
	c.readDeadline = d
	return c.ws.SetReadDeadline(d)
}

// shutdown closes an attached connection once: tells the peer why with a
// close frame, optionally waits for the peer to close its side (only the
// reader may ask: it is the only one that reads), closes the socket, drops
// what is still queued and detaches the connection from its peer.
func (c *conn) shutdown(code int, reason string, drain bool) {
	c.once.Do(func() {
		close(c.done)
		closeWith(c.ws, code, reason)
		if drain {
			c.ws.SetReadDeadline(time.Now().Add(closeWait))
			for {
				if _, _, err := c.ws.NextReader(); err != nil {
					break
				}
			}
		}
		c.ws.Close()
		c.dropQueued()
		c.t.detach(c)
	})
}

// isDone reports whether the connection started shutting down.
func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// dropQueued drops what is queued on a connection that shut down. Send
// calls it too, for a message queued just as the connection shut down; a
// message is taken from the queue once, so it is dropped once.
func (c *conn) dropQueued() {
	for {
		select {
		case e := <-c.queue:
			c.t.drop(c.peerID, e, DropConnectionLost, false)
		default:
			return
		}
	}
}

// abandon closes a connection that was never attached.
func (c *conn) abandon(code int, reason string) {
	closeWith(c.ws, code, reason)
	c.ws.Close()
}

// closeWith sends a close frame, best effort; a no-op once one was sent.
func closeWith(ws *websocket.Conn, code int, reason string) {
	// A close frame's payload is at most 125 bytes, 2 of them the code.
	if len(reason) > 123 {
		reason = reason[:123]
	}
	reason = strings.ToValidUTF8(reason, "")
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeWait))
}

// readLoop reads frames until the connection ends, and delivers each
// message of each frame that passes every check. A frame that fails one is
// dropped whole, counted, and closes the connection: nothing a peer did
// not authenticate, or sent in another member's name, reaches raft.
func (c *conn) readLoop() {
	defer c.t.wg.Done()
	t := c.t
	c.ws.SetReadLimit(t.readLimit)
	// Our pings' pongs prove the peer alive while it has nothing to say.
	c.ws.SetPongHandler(func(string) error { return c.touch() })
	// gorilla answers a close at once; we answer when our side is done
	// (retiring flushes first).
	c.ws.SetCloseHandler(func(int, string) error { return nil })
	var (
		buf []byte
		f   Frame
	)
	for {
		// Set before each read, not after: Deliver may have taken a while.
		c.touch()
		mt, r, err := c.ws.NextReader()
		if err == nil && mt != websocket.BinaryMessage {
			t.stats.badFrame.Add(1)
			c.refuse(websocket.CloseUnsupportedData, "ws: text message: frames are binary")
			return
		}
		if err == nil {
			buf, err = readMessage(r, buf[:0])
		}
		if err != nil {
			c.readFailed(err)
			return
		}
		t.stats.receivedBytes.Add(uint64(len(buf)))
		if err := c.check(&f, buf); err != nil {
			t.log.Warn("ws: frame refused", "peer", c.peerID, "err", err)
			code := websocket.ClosePolicyViolation
			switch {
			case errors.Is(err, ErrMessageTooLarge):
				code = websocket.CloseMessageTooBig
			case errors.Is(err, errBadFrame):
				code = websocket.CloseInvalidFramePayloadData
			}
			c.refuse(code, err.Error())
			return
		}
		for _, e := range f.Messages {
			t.stats.received.Add(1)
			t.cfg.Deliver(e.ID, e.Message)
		}
		clear(f.Messages)
		// A reply that Deliver queued (a heartbeat answered, a vote
		// granted) is ready to go: let its writer run before this reader
		// blocks in the next read, a syscall that would otherwise sit on
		// raft's round trip.
		runtime.Gosched()
		if cap(buf) > keptReadBufferBytes {
			buf = nil
		}
	}
}

// readFailed ends the connection after a read error.
func (c *conn) readFailed(err error) {
	t := c.t
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla already sent close 1009.
		t.stats.oversizedFrame.Add(1)
		t.log.Warn("ws: frame over the read limit", "peer", c.peerID, "limit", t.readLimit)
		c.refuse(websocket.CloseMessageTooBig, "ws: frame over the read limit")
	case errors.As(err, &ce) && ce.Code == closeDuplicate:
		// The peer retired the connection (or answers our retiring):
		// flush what we queued on it, answer, and close.
		c.retire()
		timer := time.NewTimer(closeWait + t.cfg.WriteTimeout)
		select {
		case <-c.writerDone:
		case <-timer.C:
		}
		timer.Stop()
		c.shutdown(closeDuplicate, "", false)
	default:
		t.log.Debug("ws: read", "peer", c.peerID, "err", err)
		c.shutdown(closeGoingAway, "", false)
	}
}

// errBadFrame marks frames refused for their bytes rather than for who sent
// them.
var errBadFrame = errors.New("ws: bad frame")

// check decodes buf into f and checks it against what the handshake
// established, counting a refusal by its reason.
func (c *conn) check(f *Frame, buf []byte) error {
	t := c.t
	err := decodeFrame(f, buf, t.cfg.MaxMessageBytes)
	switch {
	case err == nil:
	case errors.Is(err, ErrFromMismatch):
		t.stats.spoofedFrom.Add(1)
		return err
	case errors.Is(err, ErrToMismatch):
		t.stats.wrongRecipient.Add(1)
		return err
	case errors.Is(err, ErrMessageTooLarge):
		t.stats.oversizedFrame.Add(1)
		return err
	default:
		t.stats.badFrame.Add(1)
		return fmt.Errorf("%w: %w", errBadFrame, err)
	}
	switch {
	case f.ClusterID != t.cfg.ClusterID:
		t.stats.wrongCluster.Add(1)
		err = ErrWrongCluster
	case f.From != c.peerID:
		t.stats.spoofedFrom.Add(1)
		err = ErrFromMismatch
	case f.To != t.cfg.ID:
		t.stats.wrongRecipient.Add(1)
		err = ErrToMismatch
	default:
		return nil
	}
	clear(f.Messages)
	f.Messages = f.Messages[:0]
	return err
}

// refuse closes the connection from the reader after a bad frame, waiting
// briefly for the peer's close so it reads the reason.
func (c *conn) refuse(code int, reason string) { c.shutdown(code, reason, true) }

// readMessage appends the rest of r to buf. gorilla's read limit bounds it.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, socketBufferBytes)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// writeLoop is the connection's only data writer: it writes what is
// queued, batching whatever has accumulated into one frame, and pings.
func (c *conn) writeLoop() {
	defer c.t.wg.Done()
	defer close(c.writerDone)
	ping := time.NewTicker(c.t.cfg.PingInterval)
	defer ping.Stop()
	w := &batchWriter{c: c, hdr: FrameHeader{ClusterID: c.t.cfg.ClusterID, From: c.t.cfg.ID, To: c.peerID}}
	for {
		select {
		case <-c.done:
			return
		case <-ping.C:
			if !c.ping() {
				return
			}
		case e := <-c.queue:
			if !w.writeFrom(e, ping.C) {
				return
			}
		case <-c.retiring:
			for {
				select {
				case e := <-c.queue:
					if !w.writeFrom(e, ping.C) {
						return
					}
					continue
				default:
				}
				break
			}
			closeWith(c.ws, closeDuplicate, "duplicate connection")
			return
		}
	}
}

// ping sends a ping; false if the connection failed.
func (c *conn) ping() bool {
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.t.cfg.WriteTimeout)); err != nil {
		c.t.log.Debug("ws: ping", "peer", c.peerID, "err", err)
		c.shutdown(closeGoingAway, "", false)
		return false
	}
	return true
}

// batchWriter builds and writes frames for one connection, reusing its
// buffers: the steady state allocates nothing per message.
type batchWriter struct {
	c     *conn
	hdr   FrameHeader
	fb    FrameBuilder
	batch []Envelope
	sizes []int
}

// writeFrom writes e and whatever is queued behind it, in frames of at
// most batchBytes, until the queue is empty; a ping that falls due
// between frames goes out between them. False if the connection failed.
func (w *batchWriter) writeFrom(e Envelope, ping <-chan time.Time) bool {
	c := w.c
	for {
		next, carried := w.build(e)
		if w.fb.Count() > 0 && !w.flush() {
			if carried {
				c.t.drop(c.peerID, next, DropConnectionLost, false)
			}
			return false
		}
		if !carried {
			return true
		}
		e = next
		select {
		case <-c.done:
			c.t.drop(c.peerID, e, DropConnectionLost, false)
			return false
		case <-ping:
			if !c.ping() {
				c.t.drop(c.peerID, e, DropConnectionLost, false)
				return false
			}
		default:
		}
	}
}

// build starts a frame with e and adds what is queued until the queue is
// empty or the frame is full; a message that does not fit is returned,
// carried, to start the next frame.
func (w *batchWriter) build(e Envelope) (next Envelope, carried bool) {
	c := w.c
	t := c.t
	if err := w.fb.Reset(w.hdr); err != nil {
		panic(err) // the handshake made sure From and To are valid
	}
	w.batch, w.sizes = w.batch[:0], w.sizes[:0]
	for {
		size := proto.Size(e.Message)
		switch {
		case size > c.sendLimit:
			t.log.Warn("ws: message over MaxMessageBytes", "peer", c.peerID, "size", size, "limit", c.sendLimit)
			t.drop(c.peerID, e, DropOversized, false)
		case w.fb.Count() > 0 && (w.fb.Len()-FrameHeaderSize+FrameMessageOverhead+size > c.batchBytes || w.fb.Count() == maxBatchMessages):
			return e, true
		default:
			if err := w.fb.appendSized(e.ID, e.Message, size); err != nil {
				t.drop(c.peerID, e, DropInvalid, false)
			} else {
				w.batch = append(w.batch, e)
				w.sizes = append(w.sizes, size)
			}
		}
		select {
		case e = <-c.queue:
		default:
			return Envelope{}, false
		}
	}
}

// flush writes the frame within WriteTimeout and accounts for its
// messages: sent, or dropped if the write failed (which ends the
// connection).
func (w *batchWriter) flush() bool {
	c := w.c
	t := c.t
	defer clear(w.batch)
	c.ws.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.BinaryMessage, w.fb.Bytes()); err != nil {
		t.log.Debug("ws: write", "peer", c.peerID, "err", err)
		for _, e := range w.batch {
			t.drop(c.peerID, e, DropConnectionLost, false)
		}
		c.shutdown(closeGoingAway, "", false)
		return false
	}
	t.stats.sentBytes.Add(uint64(w.fb.Len()))
	t.stats.sent.Add(uint64(len(w.batch)))
	for i, e := range w.batch {
		if t.cfg.OnSend != nil {
			t.cfg.OnSend(e.ID, e.Message, w.sizes[i])
		}
		if e.Message.GetType() == pb.MsgSnap && t.cfg.ReportSnapshot != nil {
			t.cfg.ReportSnapshot(c.peerID, true)
		}
	}
	return true
}
