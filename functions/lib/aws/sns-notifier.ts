/** Notifier over SNS Publish: one topic, a short subject, the details as JSON. */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../ports';

export const SUBJECT_MAX = 100;
/** SNS messages are at most 256 KB. */
export const MESSAGE_MAX_BYTES = 256 * 1024;

/** SNS subjects: printable ASCII, no line breaks, at most 100 characters. */
export function snsSubject(subject: string): string {
  const clean =
    subject
      .replace(/[\r\n\t]+/g, ' ')
      .replace(/[^\x20-\x7e]/g, '?')
      .trim() || 'pgwarden';
  return clean.length <= SUBJECT_MAX ? clean : `${clean.slice(0, SUBJECT_MAX - 3)}...`;
}

export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(subject: string, message: Record<string, unknown>): Promise<void> {
    let body = JSON.stringify(message, null, 2);
    if (Buffer.byteLength(body, 'utf8') > MESSAGE_MAX_BYTES) {
      // Still valid JSON, still says what happened; the full detail is in the logs and topology history.
      body = JSON.stringify({ subject, truncated: true, preview: body.slice(0, 64 * 1024) });
    }
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: snsSubject(subject), Message: body }));
  }
}
