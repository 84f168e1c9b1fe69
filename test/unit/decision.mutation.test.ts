import { decisionFromAnswer, isAllowed, policyNames } from '../../lambda/core/decision';
import { DecisionPointError } from '../../lambda/core/errors';

const subject = { who: 'alice', what: "call the tool 'orders___refund'" };

describe('isAllowed', () => {
  it('is true for an allow only', () => {
    expect(isAllowed({ kind: 'allow', policies: [] })).toBe(true);
    expect(isAllowed({ kind: 'deny', code: 'policy', reason: 'r', policies: [] })).toBe(false);
    expect(isAllowed({ kind: 'error', reason: 'r', error: new DecisionPointError('down') })).toBe(false);
  });
});

describe('policyNames', () => {
  it('names each id by the catalogue, or by itself when the catalogue does not know it', () => {
    const catalog = new Map([['SP1', { name: 'clerks', reason: 'r' }]]);

    expect(policyNames(['SP1', 'SP2'], catalog)).toStrictEqual(['clerks', 'SP2']);
    expect(policyNames(['SP1'], undefined)).toStrictEqual(['SP1']);
  });
});

describe('an answer with evaluation errors', () => {
  it('is a deny naming each failing policy by catalogue name and reason', () => {
    const catalog = new Map([
      ['SP1', { name: 'large-refunds', reason: 'needs finance' }],
      ['SP2', { name: 'plain' }],
    ]);

    const decision = decisionFromAnswer(
      {
        decision: 'allow',
        determiningPolicies: ['SP9'],
        errors: [
          { policyId: 'SP1', detail: 'x' },
          { detail: 'no id' },
          { policyId: 'SP2', detail: 'y' },
          { policyId: 'SP3', detail: 'z' },
        ],
      },
      subject,
      catalog,
    );

    expect(decision).toStrictEqual({
      kind: 'deny',
      code: 'policy-error',
      reason:
        "Denied: policy 'large-refunds' (needs finance), policy 'plain', policy 'SP3' could not be evaluated for this request, so it was denied.",
      policies: ['large-refunds', 'plain', 'SP3'],
    });
  });

  it('is a deny even when the engine said deny', () => {
    const decision = decisionFromAnswer(
      { decision: 'deny', determiningPolicies: [], errors: [{ detail: 'x' }] },
      subject,
    );

    expect(decision).toStrictEqual({
      kind: 'deny',
      code: 'policy-error',
      reason: 'Denied: a policy could not be evaluated for this request, so it was denied.',
      policies: [],
    });
  });
});

describe('an answer without errors', () => {
  it('allows with the permits named through the catalogue', () => {
    const catalog = new Map([['SP1', { name: 'clerks' }]]);

    const decision = decisionFromAnswer(
      { decision: 'allow', determiningPolicies: ['SP1', 'SP2'], errors: [] },
      subject,
      catalog,
    );

    expect(decision).toStrictEqual({ kind: 'allow', policies: ['clerks', 'SP2'] });
  });

  it('denies by default with who and what in the reason', () => {
    const decision = decisionFromAnswer({ decision: 'deny', determiningPolicies: [], errors: [] }, subject);

    expect(decision).toStrictEqual({
      kind: 'deny',
      code: 'policy',
      reason: "Denied: no policy permits alice to call the tool 'orders___refund' (denied by default).",
      policies: [],
    });
  });
});
