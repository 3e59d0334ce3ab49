<?cs include:"header.cs" ?><?cs include:"macros.cs" ?>
<h1>API key <code><?cs var:Key.Prefix ?>…</code> <small class="muted"><?cs var:Key.Name ?> · <?cs var:Tenant.Name ?></small></h1>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys">All keys</a> · Project: <?cs if:Key.Project ?><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:Key.ProjectId ?>"><?cs var:Key.Project ?></a><?cs else ?><span class="muted">none</span> (<a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects">projects</a>)<?cs /if ?> · This key's own budgets and model list apply on top of its project's and the tenant's: a call must fit every level.</p>
<section class="cards">
  <?cs each:w = Windows ?>
  <div class="card kpi"><h2><?cs var:w.Label ?></h2><p class="num"><?cs var:w.Spent ?></p>
    <?cs if:w.HasLimit ?><?cs call:bar(w.Pct) ?><p class="sub"><?cs var:w.Reserved ?> held · <?cs var:w.Remaining ?> left of <?cs var:w.Limit ?> (key)</p>
    <?cs else ?><p class="sub"><?cs var:w.Reserved ?> held · no key limit</p><?cs /if ?>
    <p class="sub">tenant: <?cs if:w.TenantValue ?><?cs var:w.TenantValue ?> <span class="badge"><?cs var:w.TenantSource ?></span><?cs else ?>no limit<?cs /if ?></p></div>
  <?cs /each ?>
</section>
<p class="sub">Periods: day <?cs var:Period.Day ?>, month <?cs var:Period.Month ?>. This key over its budget: <?cs var:Enforcement ?> (hard refuses its calls with key_budget_exceeded, soft allows them and writes an audit row).</p>
<section class="card">
  <h2>Key limits</h2>
  <?cs if:User.Role != "support" ?>
  <p class="sub">Leave a field empty to remove the key's own value. USD as 12.50; tokens and rates as whole numbers; models as a comma list; 0 or empty means no limit of the key's own.<?cs if:User.Role == "tenant_admin" ?> Rates and concurrency may not go above what the tenant gives each key.<?cs /if ?></p>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys/<?cs var:Key.Id ?>/limits">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
  <?cs /if ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Limit</th><th>In force for this key</th><th>Set at</th><th>Tenant's own</th><?cs if:User.Role != "support" ?><th>Key's value</th><?cs /if ?></tr></thead>
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
    <button type="submit" class="primary">Save key limits</button>
  </form>
  <?cs /if ?>
</section>
<?cs include:"footer.cs" ?>
