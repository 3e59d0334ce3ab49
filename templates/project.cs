<?cs include:"header.cs" ?><?cs include:"macros.cs" ?>
<h1>Project <?cs var:Project.Name ?> <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects">All projects</a> · The project's budgets and model list apply to all its keys together, on top of the tenant's: a call must fit both.</p>
<section class="cards">
  <?cs each:w = Windows ?>
  <div class="card kpi"><h2><?cs var:w.Label ?></h2><p class="num"><?cs var:w.Spent ?></p>
    <?cs if:w.HasLimit ?><?cs call:bar(w.Pct) ?><p class="sub"><?cs var:w.Reserved ?> held · <?cs var:w.Remaining ?> left of <?cs var:w.Limit ?> (project)</p>
    <?cs else ?><p class="sub"><?cs var:w.Reserved ?> held · no project limit</p><?cs /if ?>
    <p class="sub">tenant: <?cs if:w.TenantValue ?><?cs var:w.TenantValue ?> <span class="badge"><?cs var:w.TenantSource ?></span><?cs else ?>no limit<?cs /if ?></p></div>
  <?cs /each ?>
</section>
<p class="sub">Periods: day <?cs var:Period.Day ?>, month <?cs var:Period.Month ?>. Over the project's budget: <?cs var:Enforcement ?> (hard refuses its keys' calls with project_budget_exceeded, soft allows them and writes an audit row).</p>
<section class="card">
  <h2>Project limits</h2>
  <?cs if:User.Role != "support" ?>
  <p class="sub">Leave a field empty to remove the project's value. USD as 12.50; tokens as whole numbers; models as a comma list.</p>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/limits">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
  <?cs /if ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Limit</th><th>Project's own</th><th>Set at</th><th>Tenant's own</th><?cs if:User.Role != "support" ?><th>Project's value</th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:f = Form ?>
    <tr><td><code><?cs var:f.Name ?></code><br><small class="muted"><?cs var:f.Help ?></small></td>
      <td><?cs if:f.Effective ?><?cs var:f.Effective ?><?cs else ?><span class="muted">none</span><?cs /if ?></td>
      <td><span class="badge"><?cs var:f.Source ?></span></td>
      <td><?cs if:f.TenantValue ?><?cs var:f.TenantValue ?><?cs else ?><span class="muted">—</span><?cs /if ?></td>
      <?cs if:User.Role != "support" ?>
      <td><?cs if:f.IsEnum ?><select name="<?cs var:f.Name ?>" aria-label="<?cs var:f.Name ?>"><option value=""<?cs if:!f.Value ?> selected<?cs /if ?>>the tenant's</option><option value="hard"<?cs if:f.Value == "hard" ?> selected<?cs /if ?>>hard</option><option value="soft"<?cs if:f.Value == "soft" ?> selected<?cs /if ?>>soft</option></select>
        <?cs else ?><input name="<?cs var:f.Name ?>" aria-label="<?cs var:f.Name ?>" value="<?cs var:f.Value ?>" maxlength="<?cs if:f.IsList ?>1000<?cs else ?>24<?cs /if ?>"><?cs /if ?></td>
      <?cs /if ?></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs if:User.Role != "support" ?>
    <button type="submit" class="primary">Save project limits</button>
  </form>
  <?cs /if ?>
</section>
<section class="card">
  <h2>Keys in this project</h2>
  <?cs if:subcount(Keys) == 0 ?><p class="empty">No key is in this project yet.</p><?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Prefix</th><th>Name</th><?cs if:User.Role != "support" ?><th>Remove</th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:k = Keys ?>
    <tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys/<?cs var:k.Id ?>"><code><?cs var:k.Prefix ?>…</code></a></td><td><?cs var:k.Name ?></td>
      <?cs if:User.Role != "support" ?><td><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/keys">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>"><input type="hidden" name="key_id" value="<?cs var:k.Id ?>"><input type="hidden" name="remove" value="1">
        <button type="submit">Remove</button></form></td><?cs /if ?></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
  <?cs if:User.Role != "support" && subcount(Others) > 0 ?>
  <form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/keys">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <select name="key_id" aria-label="Key to add"><?cs each:k = Others ?><option value="<?cs var:k.Id ?>"><?cs var:k.Prefix ?>… <?cs var:k.Name ?><?cs if:k.Elsewhere ?> (moves out of its project)<?cs /if ?></option><?cs /each ?></select>
    <button type="submit">Add key</button></form>
  <?cs /if ?>
</section>
<section class="card">
  <h2>Provider keys of this project</h2>
  <p class="sub">With its own key for a provider, this project's keys call that provider with it (before the tenant's own key and the platform's). Only the last four characters are ever shown.</p>
  <?cs if:subcount(PKeys) == 0 ?><p class="empty">This project has no provider key of its own.</p><?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Provider</th><th>Project's own key</th><th>Set</th><?cs if:User.Role != "support" ?><th></th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:k = PKeys ?>
    <tr><td><?cs var:k.Name ?><?cs if:!k.Configured ?> <span class="badge warn">not configured</span><?cs /if ?></td><td><code>…<?cs var:k.Last4 ?></code></td><td><?cs var:k.Updated ?></td>
      <?cs if:User.Role != "support" ?><td><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/provider-keys/<?cs var:url_escape(k.Name) ?>/clear" data-confirm="Clear this project's provider key?">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>"><button type="submit" class="danger">Clear</button></form></td><?cs /if ?></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
  <?cs if:User.Role != "support" && subcount(Providers) > 0 ?>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/provider-keys" autocomplete="off">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Provider <select name="provider"><?cs each:p = Providers ?><option value="<?cs var:p.Name ?>"><?cs var:p.Name ?></option><?cs /each ?></select></label>
    <label>Key <input type="password" name="key" required maxlength="1024" autocomplete="new-password"></label>
    <button type="submit" class="primary">Save project key</button>
  </form>
  <?cs /if ?>
</section>
<?cs if:User.Role != "support" ?>
<section class="card">
  <h2>Rename this project</h2>
  <form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/rename">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>New name <input name="name" value="<?cs var:Project.Name ?>" required maxlength="64"></label>
    <button type="submit">Rename</button></form>
</section>
<section class="card">
  <h2>Delete this project</h2>
  <form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Project.Id ?>/delete" data-confirm="Delete this project? Its limits and provider keys go; its keys stay, in no project.">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label class="check"><input type="checkbox" name="confirm" value="yes" required> I am sure</label>
    <button type="submit" class="danger">Delete</button></form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
