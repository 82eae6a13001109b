// Package id makes the random identifiers Switchboard needs (message ids,
// client ids, queue and consumer tags): 20 characters of a lowercase
// base-32 alphabet, 100 random bits, safe in topics, MQTT client ids, AMQP
// names and URLs.
package id

import "crypto/rand"

const alphabet = "0123456789abcdefghijklmnopqrstuv"

// New returns a fresh random identifier.
func New() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b[:])
}
