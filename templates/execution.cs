<?cs include:"header.cs" ?>
<h1>Execution <small class="muted"><?cs var:Exec.Id ?></small></h1>
<section class="card">
<dl class="facts">
  <dt>Time</dt><dd><?cs var:Exec.Created ?></dd>
  <dt>Tenant</dt><dd><?cs var:Exec.Tenant ?> (id <?cs var:Exec.TenantId ?>)</dd>
  <dt>Kind</dt><dd><?cs var:Exec.Kind ?><?cs if:Exec.Stream ?> (streamed)<?cs /if ?></dd>
  <dt>Status</dt><dd><span class="badge <?cs var:Exec.Badge ?>"><?cs var:Exec.Status ?></span> HTTP <?cs var:Exec.HttpStatus ?></dd>
  <dt>Reason code</dt><dd><?cs var:Exec.ReasonCode ?></dd>
  <dt>Error</dt><dd><?cs var:Exec.Error ?></dd>
  <dt>Agent</dt><dd><?cs var:Exec.Agent ?><?cs if:Exec.AgentId ?> (id <?cs var:Exec.AgentId ?>)<?cs /if ?></dd>
  <dt>Session</dt><dd><?cs var:Exec.SessionId ?></dd>
  <dt>Model</dt><dd><?cs var:Exec.Model ?></dd>
  <dt>Provider</dt><dd><?cs var:Exec.Provider ?> (credentials: <?cs var:Exec.CredSource ?>)</dd>
  <dt>API key</dt><dd>id <?cs var:Exec.KeyId ?></dd>
  <dt>End user</dt><dd><?cs if:Exec.EndUser ?><?cs var:Exec.EndUser ?><?cs else ?><span class="muted">none named</span><?cs /if ?></dd>
  <dt>Tokens</dt><dd><?cs var:Exec.Prompt ?> in · <?cs var:Exec.Completion ?> out</dd>
  <dt>Cost</dt><dd><?cs var:Exec.Cost ?><?cs if:Exec.CacheHit ?> <span class="badge ok">cache hit</span> (answered from the response cache: no upstream call)<?cs /if ?></dd>
  <dt>Latency</dt><dd><?cs var:Exec.Latency ?> ms</dd>
  <dt>Finish reason</dt><dd><?cs var:Exec.FinishReason ?></dd>
  <dt>Request id</dt><dd><code><?cs var:Exec.RequestId ?></code></dd>
  <dt>Sequence</dt><dd><?cs var:Exec.Seq ?></dd>
</dl>
</section>
<section class="card"><h2>Metadata</h2><?cs if:Exec.Metadata ?><pre><?cs var:Exec.Metadata ?></pre><?cs else ?><p class="empty">No metadata was sent with this call.</p><?cs /if ?></section>
<?cs if:Exec.ShowContent ?>
<?cs if:!Exec.Input && !Exec.Output && Exec.Kind == "chat" ?>
<section class="card" id="content"><h2>Prompt and answer</h2><p class="note"><?cs if:Exec.LogContent ?>Not recorded: content logging was off for this tenant when this call ran (it is on now, for later calls).<?cs else ?>Not recorded: content logging is off for this tenant, so chat completions store their figures only, never the prompt or the answer. An operator or the tenant's admin can turn it on on the <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Exec.TenantId ?>#log-content">tenant's page</a>; it applies to later calls.<?cs /if ?></p></section>
<?cs else ?>
<section class="card" id="content-input"><h2><?cs if:Exec.Kind == "chat" ?>Prompt (messages)<?cs else ?>Input<?cs /if ?></h2><?cs if:Exec.Input ?><pre class="payload"><?cs var:Exec.Input ?></pre><?cs else ?><p class="note">Not recorded.</p><?cs /if ?></section>
<section class="card" id="content-output"><h2><?cs if:Exec.Kind == "chat" ?>Answer<?cs else ?>Output<?cs /if ?></h2><?cs if:Exec.Output ?><pre class="payload"><?cs var:Exec.Output ?></pre><?cs else ?><p class="note"><?cs if:Exec.Status == "succeeded" ?>Not recorded.<?cs else ?>None: the call did not succeed.<?cs /if ?></p><?cs /if ?></section>
<?cs /if ?>
<?cs else ?>
<section class="card"><h2>Input and output</h2><p class="empty">Hidden: the support role does not see prompts or outputs. An operator or the tenant's own admin can.</p></section>
<?cs /if ?>
<?cs if:Exec.HasGuardrails ?>
<section class="card" id="guardrails"><h2>Guardrails</h2>
<?cs if:subcount(Exec.Guardrails) == 0 ?><p class="empty">No check ran.</p><?cs else ?>
<div class="table-wrap"><table class="grid">
  <thead><tr><th>Check</th><th>Stage</th><th>Decision</th><th>Reason</th><th class="r">ms</th></tr></thead>
  <tbody>
  <?cs each:g = Exec.Guardrails ?>
  <tr><td><code><?cs var:g.Name ?></code></td><td><?cs var:g.Stage ?></td><td><span class="badge <?cs if:g.Action == "allow" || g.Action == "redact" ?>active<?cs elif:g.Action == "skipped" ?>grace<?cs else ?>revoked<?cs /if ?>"><?cs var:g.Action ?></span></td><td><?cs var:g.Reason ?></td><td class="r"><?cs var:g.Ms ?></td></tr>
  <?cs /each ?>
  </tbody>
</table></div>
<?cs /if ?>
</section>
<?cs /if ?>
<?cs if:subcount(Exec.Steps) > 0 ?>
<section class="card"><h2>Steps</h2>
<div class="table-wrap"><table class="grid">
  <thead><tr><th class="r">#</th><th>Kind</th><th>Model or tool</th><th class="r">Tokens</th><th class="r">Cost</th><th class="r">ms</th><th>Outcome</th><th>Reason</th></tr></thead>
  <tbody>
  <?cs each:s = Exec.Steps ?>
  <tr><td class="r"><?cs var:s.Step ?></td><td><?cs var:s.Kind ?></td><td><code><?cs var:s.Name ?></code></td><td class="r"><?cs var:s.Tokens ?></td><td class="r"><?cs var:s.Cost ?></td><td class="r"><?cs var:s.Duration ?></td>
    <td><span class="badge <?cs var:s.Outcome ?>"><?cs var:s.Outcome ?></span></td><td><?cs if:s.Reason ?><code><?cs var:s.Reason ?></code><?cs /if ?><?cs if:s.Message ?><br><small><?cs var:s.Message ?></small><?cs /if ?></td></tr>
  <?cs /each ?>
  </tbody>
</table></div>
</section>
<?cs /if ?>
<p><a href="<?cs var:Prefix ?>/admin/executions?tenant_id=<?cs var:Exec.TenantId ?>">Back to executions</a></p>
<?cs include:"footer.cs" ?>
