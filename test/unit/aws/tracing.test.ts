/** X-Ray capture of the Lambdas' SDK clients: on in Lambda, off elsewhere. */
import { SSMClient } from '@aws-sdk/client-ssm';
import { tracedClient } from '../../../functions/lib/aws/tracing';

const middleware = (c: SSMClient) => c.middlewareStack.identify().join(' ');

describe('tracedClient', () => {
  it('adds the X-Ray middleware to an SDK client in Lambda', () => {
    const c = tracedClient(new SSMClient({ region: 'eu-west-1' }), { AWS_LAMBDA_FUNCTION_NAME: 'pgwarden-dev-probe' });
    expect(middleware(c)).toContain('XRaySDKInstrumentation');
  });
  it('leaves the client alone outside Lambda (no segment to attach to)', () => {
    const c = tracedClient(new SSMClient({ region: 'eu-west-1' }), {});
    expect(middleware(c)).not.toContain('XRaySDKInstrumentation');
  });
});
