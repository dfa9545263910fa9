declare module 'asl-validator' {
  interface AslValidationResult {
    isValid: boolean;
    errors: unknown[];
  }
  function aslValidator(definition: unknown, opts?: Record<string, unknown>): AslValidationResult;
  export default aslValidator;
}
