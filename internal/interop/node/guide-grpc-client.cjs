// The guide's grpc-js client ("gRPC and Protocol Buffers", "Client
// Implementation"), as written there: proto-loader with keepCase, the
// four RPCs and its main(). Only the server address differs (argv[2]),
// and the proto's path (argv[3]: examples/notes/notespb/notes.proto, the
// guide's notes.proto). It prints what the guide's main prints, then a
// JSON line with the results for the Go test.
//
//   node guide-grpc-client.cjs host:port path/to/notes.proto
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const path = require('path');

const PROTO_PATH = path.resolve(__dirname, process.argv[3] || './notes.proto');
const packageDefinition = protoLoader.loadSync(PROTO_PATH, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true
});

const notesProto = grpc.loadPackageDefinition(packageDefinition).notes;

const client = new notesProto.NoteService(
  process.argv[2],
  grpc.credentials.createInsecure()
);

function createNote(title, content) {
  return new Promise((resolve, reject) => {
    client.createNote({ title, content }, (err, response) => {
      if (err) return reject(err);
      resolve(response);
    });
  });
}

function listNotes(pageSize = 10) {
  return new Promise((resolve, reject) => {
    const notes = [];
    const call = client.listNotes({ page_size: pageSize });
    call.on('data', (note) => {
      notes.push(note);
    });
    call.on('error', (err) => {
      reject(err);
    });
    call.on('end', () => {
      resolve(notes);
    });
  });
}

function batchCreateNotes(notesData) {
  return new Promise((resolve, reject) => {
    const call = client.batchCreateNotes((err, response) => {
      if (err) return reject(err);
      resolve(response);
    });
    notesData.forEach(note => {
      call.write(note);
    });
    call.end();
  });
}

function streamNotesByTitle(titleFragment) {
  return new Promise((resolve, reject) => {
    const notes = [];
    const call = client.streamNotes();
    call.write({
      filter: {
        title_contains: titleFragment
      }
    });
    call.on('data', (note) => {
      notes.push(note);
      console.log(`Received note: ${note.title}`);
    });
    call.on('error', (err) => {
      reject(err);
    });
    call.on('end', () => {
      resolve(notes);
    });
    call.end();
  });
}

async function main() {
  const result = {};
  try {
    const note = await createNote('My First Note', 'Hello gRPC!');
    console.log('Created note:', note);
    result.created = note;

    result.batch = await batchCreateNotes([
      { title: 'Note 1', content: 'Content 1' },
      { title: 'Note 2', content: 'Content 2' },
      { title: 'Note 3', content: 'Content 3' }
    ]);

    const allNotes = await listNotes();
    console.log('All notes:', allNotes);
    result.all = allNotes;

    const matchingNotes = await streamNotesByTitle('Note');
    console.log('Matching notes:', matchingNotes);
    result.matching = matchingNotes;
  } catch (err) {
    console.error('Error:', err);
    result.error = String(err);
  }
  client.close();
  console.log(JSON.stringify(result));
}

main();
