// A worker that sends e-mail for the rest of the application.
//
//   node examples/send-mail-worker.js            (servers from GEARMAN_SERVERS, default 127.0.0.1:4730)
//
// It registers `send_mail`, takes a JSON workload { to, subject, body }, and "sends" it by writing
// an RFC 5322 message into gearbox-outbox/ under the system's temp directory (os.tmpdir(), so
// nothing lands in your checkout) — swap deliver() for your SMTP library. Two mails go out at
// once; a mail that takes longer than 10 s fails; Ctrl-C lets the running mails finish first.
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'gearbox';

const outbox = join(tmpdir(), 'gearbox-outbox');
await mkdir(outbox, { recursive: true });
console.log(`writing mail to ${outbox}`);

async function deliver(mail, signal) {
  // Pretend the SMTP conversation takes a moment; honour the abort signal like real I/O would.
  await sleep(200, undefined, { signal });
  const id = `${Date.now()}-${Math.random().toString(36).slice(2)}@gearbox.example`;
  const message = [
    `Message-ID: <${id}>`,
    `Date: ${new Date().toUTCString()}`,
    'From: noreply@gearbox.example',
    `To: ${mail.to}`,
    `Subject: ${mail.subject}`,
    '',
    mail.body,
    '',
  ].join('\r\n');
  await writeFile(join(outbox, `${id}.eml`), message, { signal });
  return id;
}

const worker = new Worker({
  servers: process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730',
  concurrency: 2,
  clientId: 'mailer',
});

worker.register(
  'send_mail',
  async (job) => {
    const mail = job.json();
    if (typeof mail.to !== 'string' || !mail.to.includes('@')) {
      // Thrown errors reach the client as a JobExceptionError with this message.
      throw new Error(`invalid recipient: ${JSON.stringify(mail.to)}`);
    }
    job.sendStatus(1, 2);
    const messageId = await deliver(mail, job.signal);
    job.sendStatus(2, 2);
    // Objects are sent back as JSON.
    return { messageId, to: mail.to };
  },
  { timeout: 10_000 },
);

worker.on('connect', (server) => console.log(`connected to ${server}`));
worker.on('disconnect', (server, error) => console.warn(`lost ${server}: ${error.message}`));
worker.on('failed', (job, error) => console.warn(`mail ${job.handle} failed: ${error.message}`));

await worker.start();
console.log('waiting for send_mail jobs; Ctrl-C to stop');

process.once('SIGINT', async () => {
  console.log('stopping: finishing the mails in progress');
  await worker.stop({ timeout: 15_000 });
});
