import { expect } from 'chai';
import { StatusWriter } from '../../../controller/agent/status-writer.js';

describe('the agent status writer', () => {
  it('sends every field written so far with each write, so server-side apply keeps them', async () => {
    const sent: object[] = [];
    const writer = new StatusWriter<{ phase?: string; nodeName?: string; progress?: number }>((s) => {
      sent.push(s);
      return Promise.resolve();
    });
    await writer.write({ phase: 'Snapshotting', nodeName: 'hv-node-1' });
    await writer.write({ phase: 'Transferring' });
    expect(sent.at(-1)).to.deep.equal({ phase: 'Transferring', nodeName: 'hv-node-1' });
  });

  it('never lets a slow progress update land after the final phase', async () => {
    const landed: string[] = [];
    const writer = new StatusWriter<{ phase?: string; progress?: number }>(async (s) => {
      await new Promise((resolve) => setTimeout(resolve, s.progress === 50 ? 20 : 1));
      landed.push(`${s.phase}:${s.progress}`);
    });
    await writer.write({ phase: 'Transferring', progress: 0 });
    writer.hint({ progress: 50 });
    writer.hint({ progress: 60 });
    await writer.write({ phase: 'Completed', progress: 100 });
    expect(landed.at(-1)).to.equal('Completed:100');
    expect(landed.length, 'the second hint rode along with the first').to.be.at.most(3);
  });
});
