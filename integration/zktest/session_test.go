package zktest

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

func connectResponseBytes(timeout int32, id int64, passwd []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(timeout))
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	b = binary.BigEndian.AppendUint32(b, uint32(len(passwd)))
	return append(b, passwd...)
}

func TestParseConnectResponse(t *testing.T) {
	passwd := []byte("0123456789abcdef")
	tests := []struct {
		name   string
		in     []byte
		ok     bool
		id     int64
		tmo    int32
		passwd []byte
	}{
		{"valid", connectResponseBytes(4000, 0x1234, passwd), true, 0x1234, 4000, passwd},
		{"valid with read-only flag", append(connectResponseBytes(4000, 7, passwd), 0), true, 7, 4000, passwd},
		{"expired session", connectResponseBytes(0, 0, make([]byte, 16)), true, 0, 0, make([]byte, 16)},
		{"empty", nil, false, 0, 0, nil},
		{"short header", make([]byte, 19), false, 0, 0, nil},
		{"password longer than frame", connectResponseBytes(4000, 1, passwd)[:30], false, 0, 0, nil},
		{"negative password length", append(connectResponseBytes(1, 1, nil)[:16], 0xff, 0xff, 0xff, 0xff), false, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseConnectResponse(tt.in)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.id, got.id)
				assert.Equal(t, tt.tmo, got.timeout)
				assert.Equal(t, tt.passwd, got.passwd)
			}
		})
	}
}

func TestConnectSnifferRecordsSessionSplitAcrossReads(t *testing.T) {
	body := connectResponseBytes(2000, 42, []byte("secret-password!"))
	frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	frame = append(frame, 0, 0, 0, 9, 1, 2, 3) // the start of the next reply
	for split := 1; split < len(frame); split++ {
		var book sessionBook
		s := connectSniffer{book: &book}
		s.feed(frame[:split])
		s.feed(frame[split:])
		cred, ok := book.get(42)
		if assert.True(t, ok, "split at %d", split) {
			assert.Equal(t, int32(2000), cred.timeout)
			assert.Equal(t, "secret-password!", string(cred.passwd))
		}
	}
}

func TestConnectSnifferIgnoresExpiredAndOversizedReplies(t *testing.T) {
	var book sessionBook
	s := connectSniffer{book: &book}
	body := connectResponseBytes(0, 9, make([]byte, 16))
	s.feed(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	_, ok := book.get(9)
	assert.False(t, ok, "a refused session was recorded")

	s = connectSniffer{book: &book}
	s.feed([]byte{0x7f, 0xff, 0xff, 0xff})
	assert.True(t, s.done, "an oversized first frame must end sniffing")
}

func FuzzParseConnectResponse(f *testing.F) {
	f.Add(connectResponseBytes(4000, 1, []byte("0123456789abcdef")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseConnectResponse(b)
		if ok && len(r.passwd) > len(b) {
			t.Fatalf("password of %d bytes from %d", len(r.passwd), len(b))
		}
		var book sessionBook
		s := connectSniffer{book: &book}
		s.feed(b)
	})
}
