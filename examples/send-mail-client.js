// The application side of examples/send-mail-worker.js.
//
//   node examples/send-mail-client.js           (servers from GEARMAN_SERVERS, default 127.0.0.1:4730)
//
// Sends one mail and waits for it (following its progress), queues a newsletter in the
// background, schedules a reminder for later, and shows what a failed job looks like.
import { Client, JobExceptionError, TimeoutError } from 'gearbox';

const client = new Client({ servers: process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730' });

try {
  // 1. A foreground job: wait for the result, watching its progress.
  const welcome = client.submit(
    'send_mail',
    JSON.stringify({ to: 'ada@example.com', subject: 'Welcome', body: 'Hello Ada!' }),
    { timeout: 30_000 },
  );
  welcome.on('status', (done, total) => console.log(`welcome mail: step ${done}/${total}`));
  const { messageId } = (await welcome.result()).json();
  console.log(`welcome mail sent as ${messageId}`);

  // 2. Background jobs: the handle comes back as soon as the server has queued them. The unique
  //    id makes a second submission of the same newsletter a no-op while the first is queued.
  for (const to of ['grace@example.com', 'alan@example.com']) {
    const handle = await client.submitBackground(
      'send_mail',
      JSON.stringify({ to, subject: 'Newsletter', body: 'News!' }),
      { unique: `newsletter-2026-11:${to}`, priority: 'low' },
    );
    console.log(`newsletter for ${to} queued as ${handle}`);
  }

  // 3. A job for later (SUBMIT_JOB_EPOCH): the server keeps it until then.
  const reminder = await client.submitBackground(
    'send_mail',
    JSON.stringify({ to: 'ada@example.com', subject: 'Reminder', body: 'See you tomorrow' }),
    { at: new Date(Date.now() + 60_000) },
  );
  console.log(`reminder scheduled as ${reminder}:`, await client.getStatus(reminder));

  // 4. Failures are typed errors.
  try {
    await client.run('send_mail', JSON.stringify({ to: 'nobody', subject: 'x', body: 'x' }), {
      timeout: 30_000,
    });
  } catch (error) {
    if (error instanceof JobExceptionError) console.log(`refused as expected: ${error.data}`);
    else if (error instanceof TimeoutError) console.log('no worker answered in time');
    else throw error;
  }
} finally {
  await client.close();
}
