package main

// The -expire fault, kept apart from the story: each worker run with
// -expire reaches ZooKeeper through a relay in its own process. Just
// before the first item's sale is sent, the seller's relay stops passing
// replies: the sale reaches ZooKeeper and is made, but the worker never
// hears so. Its client gives up
// on the silent connection, and the relay keeps new connections out until
// ZooKeeper expires the session, which it sees as ZooKeeper closing the old
// connection; from then on it relays as before.

import (
	"io"
	"log"
	"net"
	"sync"
)

// beforeSale is called just before each sale is sent; first tells whether
// it sells the first item.
var beforeSale = func(first bool) {}

// loseFirstSaleReply starts the relay to servers[0] and returns its
// address, for the worker to use instead.
func loseFirstSaleReply(servers []string) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r := &relay{server: servers[0]}
	beforeSale = func(first bool) {
		if first {
			r.setMuted(true)
		}
	}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			if r.isMuted() {
				client.Close() // the session must expire first
				continue
			}
			go r.serve(client)
		}
	}()
	return []string{ln.Addr().String()}
}

type relay struct {
	server string
	mu     sync.Mutex
	muted  bool // replies are dropped and new connections refused
}

func (r *relay) setMuted(m bool) { r.mu.Lock(); r.muted = m; r.mu.Unlock() }
func (r *relay) isMuted() bool   { r.mu.Lock(); defer r.mu.Unlock(); return r.muted }

func (r *relay) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", r.server)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		io.Copy(server, client) // requests always pass
		if !r.isMuted() {
			server.Close()
		} // else leave it open for ZooKeeper to close when the session expires
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if err != nil {
			r.setMuted(false) // ZooKeeper closed it: the session is over
			return
		}
		if !r.isMuted() {
			client.Write(buf[:n])
		}
	}
}
