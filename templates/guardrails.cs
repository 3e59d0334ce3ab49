<?cs include:"header.cs" ?>
<h1>Guardrails <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="card">
  <p class="sub">Checks run, in this order, before and after each of this tenant's model calls. A denial answers 403 <code>guardrail_denied</code>; a check that fails answers 502 <code>guardrail_failed</code>. What each check decided is on every execution's page.</p>
  <?cs if:subcount(Chain) == 0 ?>
  <p class="empty">No checks: calls go straight to the provider <small class="muted">(<?cs var:ChainSource ?>)</small>.</p>
  <?cs else ?>
  <ol id="chain"><?cs each:c = Chain ?><li><code><?cs var:c.Name ?></code></li><?cs /each ?></ol>
  <p class="muted">Set at: <?cs var:ChainSource ?></p>
  <?cs /if ?>
</section>
<?cs if:ChainEdit ?>
<section class="card">
  <h2>This tenant's chain</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/guardrails">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Guardrails, in order <small class="muted">comma list of registered names; empty takes the plan's or the global chain; <code>none</code> runs no check</small>
    <input name="chain" maxlength="1000" value="<?cs var:ChainOwn ?>"></label>
    <button type="submit" class="primary">Save</button>
  </form>
</section>
<?cs /if ?>
<section class="card">
  <h2>Registered guardrails</h2>
  <p class="sub">Registered by the operator with <code>agenthostctl guardrails register</code> or the operator API.</p>
  <?cs if:subcount(Registry) == 0 ?>
  <p class="empty">No guardrail is registered.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Name</th><th>Stage</th><th class="r">Timeout ms</th><th>Settings</th><th>State</th><th>Description</th></tr></thead>
    <tbody>
    <?cs each:g = Registry ?>
    <tr><td><code><?cs var:g.Name ?></code></td><td><?cs var:g.Stage ?></td><td class="r"><?cs var:g.Timeout ?></td>
      <td><?cs if:g.Env ?><code><?cs var:g.Env ?></code><?cs /if ?></td>
      <td><span class="badge <?cs if:g.Enabled ?>active<?cs else ?>revoked<?cs /if ?>"><?cs if:g.Enabled ?>enabled<?cs else ?>disabled<?cs /if ?></span></td>
      <td><?cs var:g.Description ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<p><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>">Back to the tenant</a></p>
<?cs include:"footer.cs" ?>
