package core

import (
	"encoding/binary"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func frame(parts ...[]byte) []byte {
	body := slices.Concat(parts...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func i32(v int32) []byte  { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func i64(v int64) []byte  { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func str(s string) []byte { return append(i32(int32(len(s))), s...) }

// heads feeds stream to a frame splitter in chunks of the given size and
// returns the heads it emitted.
func heads(stream []byte, max, chunk int) [][]byte {
	f := frames{max: max, handshake: true}
	var out [][]byte
	for len(stream) > 0 {
		k := min(chunk, len(stream))
		f.feed(stream[:k], func(h []byte) { out = append(out, slices.Clone(h)) })
		stream = stream[k:]
	}
	return out
}

func TestFramesSplitAStreamWhateverItsChunks(t *testing.T) {
	handshake := frame(i32(0), i64(0), i32(10000), i64(0), str("password"))
	create := frame(i32(7), i32(opCreate), str("/a/_c_x-lock-"), str("data"), i32(0), i32(3))
	other := frame(i32(8), i32(12), str("/a"), []byte{0})
	empty := frame()
	stream := slices.Concat(handshake, create, other, empty, create)
	want := [][]byte{create[4 : 4+12+13], other[4:], {}, create[4 : 4+12+13]}
	for _, chunk := range []int{1, 2, 3, 5, 7, 64, len(stream)} {
		got := heads(stream, 12+13, chunk)
		require.Len(t, got, len(want), "chunk %d", chunk)
		for i := range want {
			assert.Equal(t, want[i], got[i], "chunk %d frame %d", chunk, i)
		}
	}
}

func TestParseRequestAndReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		head []byte
		xid  int32
		op   int32
		path string
		ok   bool
	}{
		{"create", slices.Concat(i32(5), i32(opCreate), str("/x/y-")), 5, opCreate, "/x/y-", true},
		{"other op", slices.Concat(i32(6), i32(4)), 6, 4, "", true},
		{"short", i32(5), 0, 0, "", false},
		{"create without path", slices.Concat(i32(5), i32(opCreate)), 0, 0, "", false},
		{"path longer than frame", slices.Concat(i32(5), i32(opCreate), i32(100), []byte("/x")), 0, 0, "", false},
		{"negative length", slices.Concat(i32(5), i32(opCreate), i32(-3)), 0, 0, "", false},
	} {
		xid, op, p, ok := parseRequest(tc.head)
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.xid, xid, tc.name)
		assert.Equal(t, tc.op, op, tc.name)
		assert.Equal(t, tc.path, p, tc.name)
	}
	xid, zxid, code, ok := parseReply(slices.Concat(i32(9), i64(0x100000042), i32(-101)))
	assert.True(t, ok)
	assert.Equal(t, []any{int32(9), int64(0x100000042), int32(-101)}, []any{xid, zxid, code})
	_, _, _, ok = parseReply(i32(9))
	assert.False(t, ok)
}

// TestTapLearnsTheZxidOfOnlyItsOwnCreates runs a tapped connection over a
// pipe against a scripted server: it sees a create it was told to expect,
// one it was not, and an error reply.
func TestTapLearnsTheZxidOfOnlyItsOwnCreates(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	tap := &createTap{}
	conn := tap.wrap(client)
	defer conn.Close()
	mine := tap.expect("/q/_c_1-lock-")
	failed := tap.expect("/q/_c_2-lock-")
	defer tap.forget("/q/_c_1-lock-")
	defer tap.forget("/q/_c_2-lock-")

	requests := slices.Concat(
		frame(i32(0), i64(0), i32(10000), i64(0), str("pw")), // handshake
		frame(i32(1), i32(opCreate), str("/q/_c_1-lock-")),
		frame(i32(2), i32(opCreate), str("/q/other-")),
		frame(i32(3), i32(opCreate), str("/q/_c_2-lock-")))
	replies := slices.Concat(
		frame(i32(0), i32(10000), i64(77), str("pw")), // handshake
		frame(i32(2), i64(500), i32(0), str("/q/other-0000000001")),
		frame(i32(1), i64(501), i32(0), str("/q/_c_1-lock-0000000000")),
		frame(i32(3), i64(502), i32(-110), nil))

	go func() {
		buf := make([]byte, len(requests))
		n := 0
		for n < len(buf) {
			k, err := server.Read(buf[n:])
			if err != nil {
				return
			}
			n += k
		}
		server.Write(replies)
	}()
	for _, b := range [][]byte{requests[:10], requests[10:]} {
		_, err := conn.Write(b)
		require.NoError(t, err)
	}
	select {
	case <-mine.sent:
	default:
		t.Fatal("expected create not reported sent")
	}
	buf := make([]byte, len(replies))
	n := 0
	for n < len(buf) {
		k, err := conn.Read(buf[n : n+min(7, len(buf)-n)])
		require.NoError(t, err)
		n += k
	}
	assert.Equal(t, replies, buf)
	assert.Equal(t, int64(501), mine.zxid.Load())
	assert.Zero(t, failed.zxid.Load(), "an error reply gave a token")
}

// TestTapReadsAheadWithoutChangingTheStream reads a stream longer than
// the read-ahead buffer through the tap in reads of every size: the bytes
// come out unchanged and in order, and the connection's end is reported
// after the last of them.
func TestTapReadsAheadWithoutChangingTheStream(t *testing.T) {
	stream := make([]byte, 3*readAhead+17)
	for i := range stream {
		stream[i] = byte(i * 7)
	}
	for _, size := range []int{1, 4, 7, 4096, readAhead, 2 * readAhead} {
		client, server := net.Pipe()
		conn := (&createTap{}).wrap(client)
		go func() {
			server.Write(stream)
			server.Close()
		}()
		var got []byte
		buf := make([]byte, size)
		var err error
		for err == nil {
			var n int
			n, err = conn.Read(buf)
			got = append(got, buf[:n]...)
		}
		assert.ErrorIs(t, err, io.EOF, "read size %d", size)
		assert.Equal(t, stream, got, "read size %d", size)
		conn.Close()
	}
}

// FuzzFrames feeds arbitrary bytes, in arbitrary chunks, to the frame
// splitter and the parsers: no panic, and the chunking changes nothing.
func FuzzFrames(f *testing.F) {
	f.Add(frame(i32(1), i32(opCreate), str("/a-")), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2}, uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		whole := heads(stream, 64, len(stream)+1)
		split := heads(stream, 64, int(chunk)+1)
		require.Equal(t, len(whole), len(split))
		for i := range whole {
			require.Equal(t, whole[i], split[i])
			parseRequest(whole[i])
			parseReply(whole[i])
		}
	})
}

// TestTapTakesInAllThatArrivedInOneRead reads 100 replies that arrived
// together the way go-zookeeper does (length, then body): the socket is
// read once, not twice per reply.
func TestTapTakesInAllThatArrivedInOneRead(t *testing.T) {
	var replies []byte
	for i := range 101 { // the handshake, then 100 replies
		replies = append(replies, frame(i32(int32(i)), i64(0), i32(0))...)
	}
	client, server := net.Pipe()
	counted := &countingConn{Conn: client}
	conn := (&createTap{}).wrap(counted)
	defer conn.Close()
	go server.Write(replies)
	for range 101 {
		var head [4]byte
		_, err := io.ReadFull(conn, head[:])
		require.NoError(t, err)
		body := make([]byte, binary.BigEndian.Uint32(head[:]))
		_, err = io.ReadFull(conn, body)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, counted.reads)
}

type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(b []byte) (int, error) {
	c.reads++
	return c.Conn.Read(b)
}

// TestTapKnowsItWokeForASessionTimeout: a read after a silence longer than
// a live session allows marks the tap woken, and the replies read after it
// (to requests sent once awake) do not clear that before a session timeout
// has passed: what the first read brought is still being handled.
func TestTapKnowsItWokeForASessionTimeout(t *testing.T) {
	tap := &createTap{}
	tap.timeout.Store(3000) // ms
	client, server := net.Pipe()
	conn := tap.wrap(client)
	defer conn.Close()
	read := func() { // one read from the socket
		t.Helper()
		go server.Write(make([]byte, 8))
		_, err := io.ReadFull(conn, make([]byte, 8))
		require.NoError(t, err)
	}
	read()
	assert.False(t, tap.wokeAt() != 0, "the first bytes ever heard")
	tap.heard.Add(-int64(time.Second)) // heard a second ago: a live session's pause
	read()
	assert.False(t, tap.wokeAt() != 0, "after a second's silence of a 3 s session")
	tap.heard.Add(-int64(2100 * time.Millisecond)) // heard 2.1 s ago: more than 2/3 of 3 s
	read()
	assert.True(t, tap.wokeAt() != 0, "after 2.1 s of silence")
	read()
	assert.True(t, tap.wokeAt() != 0, "a reply read just after the wake")
	tap.woke.Add(-int64(3 * time.Second)) // the wake was a session timeout ago
	assert.False(t, tap.wokeAt() != 0, "a session timeout after the wake")
}
