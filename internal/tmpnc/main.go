package main

import (
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if len(os.Args) > 1 {
		for _, s := range os.Args[1:] {
			fmt.Println(s, js.DeleteStream(ctx, s))
		}
		return
	}
	for n := range js.StreamNames(ctx).Name() {
		fmt.Println(n)
	}
}
