<?cs include:"header.cs" ?>
<h1>API keys <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects">Projects</a> group keys under budgets of their own (<a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/tags">tag budgets</a> bind the calls that carry a metadata tag); a key's name opens its budgets, models and rates.</p>
<section class="card">
  <?cs if:subcount(Keys) == 0 ?>
  <p class="empty">This tenant has no API keys yet.<?cs if:User.Role != "support" ?> Create one below; its secret is shown once.<?cs /if ?></p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Key</th><th>Name</th><th>Scopes</th><th class="hide-sm">Last used</th><th>Status</th><?cs if:User.Role != "support" ?><th>Rotate</th><th>Revoke</th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:k = Keys ?>
    <tr id="key-<?cs var:k.Id ?>"><td><code><?cs var:k.Prefix ?>…</code><br><small class="muted">id <?cs var:k.Id ?> · created <?cs var:k.Created ?></small></td><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys/<?cs var:k.Id ?>" title="budgets, models and rates of this key"><?cs var:k.Name ?></a><?cs if:k.RotatedTo ?><br><small class="muted">replaced by <a href="#key-<?cs var:k.RotatedTo ?>">id <?cs var:k.RotatedTo ?></a></small><?cs /if ?></td><td><?cs var:k.Scopes ?></td>
      <td class="hide-sm"><?cs if:k.LastUsed ?><?cs var:k.LastUsed ?><?cs else ?><span class="muted">never</span><?cs /if ?></td>
      <td><span class="badge <?cs var:k.Badge ?>"><?cs var:k.Status ?></span><?cs if:k.GraceUntil ?> <small class="muted">until <?cs var:k.GraceUntil ?></small><?cs elif:k.Expires ?> <small class="muted">expires <?cs var:k.Expires ?></small><?cs /if ?></td>
      <?cs if:User.Role != "support" ?>
      <td><?cs if:k.Rotatable ?><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys/<?cs var:k.Id ?>/rotate">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
        <select name="grace" aria-label="Old key keeps working for"><?cs each:g = Graces ?><option value="<?cs var:g.Seconds ?>"<?cs if:g.Seconds == 86400 ?> selected<?cs /if ?>><?cs var:g.Label ?></option><?cs /each ?></select>
        <button type="submit">Rotate</button></form><?cs /if ?></td>
      <td><?cs if:k.Active ?><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys/<?cs var:k.Id ?>/revoke" data-confirm="Revoke this key? Calls with it fail at once.">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
        <label class="check"><input type="checkbox" name="confirm" value="yes" required> I am sure</label>
        <button type="submit" class="danger">Revoke</button></form><?cs /if ?></td>
      <?cs /if ?>
    </tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<?cs if:User.Role != "support" ?>
<section class="card">
  <h2>New key</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name <input name="name" maxlength="100" value="<?cs var:Form.Name ?>"></label>
    <fieldset><legend>Scopes</legend>
      <label class="check"><input type="checkbox" name="scope_inference" value="yes" checked> inference (chat, runs)</label>
      <label class="check"><input type="checkbox" name="scope_read" value="yes" checked> read (runs, sessions, usage, budget)</label>
      <label class="check"><input type="checkbox" name="scope_manage" value="yes"> manage (the tenant's keys and their limits)</label>
    </fieldset>
    <label>Expires after (days, empty = never) <input name="expires_days" inputmode="numeric" maxlength="4" value="<?cs var:Form.Days ?>"></label>
    <button type="submit" class="primary">Create key</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
