import 'aws-sdk-client-mock-jest';
import '../infra/local/polyfills';
