import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { MESSAGE_MAX_BYTES, SnsNotifier, snsSubject } from '../../../functions/lib/aws/sns-notifier';

const snsMock = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:pgwarden-events';

function notifier() {
  return new SnsNotifier(new SNSClient({ region: 'eu-west-1' }), TOPIC);
}

beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('SnsNotifier', () => {
  it('publishes the subject and the message as JSON to the topic', async () => {
    // Prepare
    const message = { cluster: 'prod', newPrimary: 'pg2', rtoMs: 840 };

    // Act
    await notifier().notify('pgwarden: failover on prod completed', message);

    // Assess
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC,
      Subject: 'pgwarden: failover on prod completed',
      Message: JSON.stringify(message, null, 2),
    });
  });

  it('truncates the subject to 100 characters', async () => {
    // Prepare
    const subject = `pgwarden: failover on prod refused: ${'no candidate holds every acknowledged commit '.repeat(5)}`;

    // Act
    await notifier().notify(subject, {});

    // Assess
    const sent = snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject ?? '';
    expect(sent).toHaveLength(100);
    expect(sent.endsWith('...')).toBe(true);
    expect(subject.startsWith(sent.slice(0, 97))).toBe(true);
  });

  it('replaces a large message with a valid JSON preview under the SNS limit', async () => {
    // Prepare
    const message = { log: 'x'.repeat(MESSAGE_MAX_BYTES) };

    // Act
    await notifier().notify('big', message);

    // Assess
    const body = snsMock.commandCalls(PublishCommand)[0].args[0].input.Message ?? '';
    expect(Buffer.byteLength(body)).toBeLessThan(MESSAGE_MAX_BYTES);
    expect(JSON.parse(body)).toMatchObject({ subject: 'big', truncated: true });
  });

  it('propagates a publish error', async () => {
    // Prepare
    snsMock.on(PublishCommand).rejects(new Error('AuthorizationError'));

    // Act
    const notify = notifier().notify('x', {});

    // Assess
    await expect(notify).rejects.toThrow('AuthorizationError');
  });
});

describe('snsSubject', () => {
  it('removes line breaks and non-ASCII characters SNS would reject', () => {
    // Prepare / Act / Assess
    expect(snsSubject('failover\non prod — done')).toBe('failover on prod ? done');
    expect(snsSubject('  \n ')).toBe('pgwarden');
  });
});
