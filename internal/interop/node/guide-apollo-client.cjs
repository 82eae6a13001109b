// The guide's Apollo Client ("GraphQL Subscriptions", "Client
// Implementation"): an HttpLink for queries and a WebSocketLink
// (subscriptions-transport-ws) for subscriptions, split on the operation
// type, with the guide's Messages query and MessageAdded subscription,
// and connectionParams.authorization from localStorage's userId. Only the
// server URLs differ (from argv). The ChatRoom component's effect runs as
// a plain function (no React renderer here): the same client.query and
// client.subscribe calls, whose results it prints as JSON lines.
//
// Node has no localStorage, and Node 20 no global WebSocket: they are
// provided the way a browser would have them (ws, and a userId of argv[4]).
//
//   node guide-apollo-client.cjs http://host:port/graphql ws://host:port/graphql userId roomId
const [httpURL, wsURL, userId, roomId] = process.argv.slice(2);
globalThis.WebSocket = globalThis.WebSocket || require('ws');
globalThis.localStorage = { getItem: (k) => (k === 'userId' ? userId : null) };

const { ApolloClient, InMemoryCache, HttpLink, split } = require('@apollo/client');
const { WebSocketLink } = require('@apollo/client/link/ws');
const { getMainDefinition } = require('@apollo/client/utilities');
const { gql } = require('@apollo/client');

const httpLink = new HttpLink({
  uri: httpURL
});

const wsLink = new WebSocketLink({
  uri: wsURL,
  options: {
    reconnect: true,
    connectionParams: {
      authorization: localStorage.getItem('userId')
    }
  }
});

const splitLink = split(
  ({ query }) => {
    const definition = getMainDefinition(query);
    return (
      definition.kind === 'OperationDefinition' &&
      definition.operation === 'subscription'
    );
  },
  wsLink,
  httpLink
);

const client = new ApolloClient({
  link: splitLink,
  cache: new InMemoryCache()
});

const print = (kind, value) => console.log(JSON.stringify({ kind, value }));

// The body of the guide's ChatRoom effect, for one room.
function chatRoom(roomId) {
  client.query({
    query: gql`
      query Messages($roomId: ID!) {
        messages(roomId: $roomId) {
          id
          content
          sender
          timestamp
        }
      }
    `,
    variables: { roomId }
  }).then(result => {
    print('messages', result.data.messages);
  }, err => print('error', String(err)));

  const subscription = client.subscribe({
    query: gql`
      subscription MessageAdded($roomId: ID!) {
        messageAdded(roomId: $roomId) {
          id
          content
          sender
          timestamp
        }
      }
    `,
    variables: { roomId }
  }).subscribe({
    next({ data }) {
      print('messageAdded', data.messageAdded);
    },
    error(err) {
      console.error('Subscription error:', err);
      print('error', String(err));
    }
  });

  return () => {
    subscription.unsubscribe();
  };
}

const cleanup = chatRoom(roomId);
// The Go test closes stdin when it has seen enough: unmount, close.
process.stdin.resume();
process.stdin.on('end', () => {
  cleanup();
  wsLink.subscriptionClient.close();
  client.stop();
  print('done', null);
});
