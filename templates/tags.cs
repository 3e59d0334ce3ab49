<?cs include:"header.cs" ?>
<h1>Tag budgets <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys">API keys</a> · <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects">Projects</a> · A call whose metadata carries a tag (<code>"metadata": {"department": "research"}</code>) must fit that tag's budgets too, whatever its key; calls without it are not touched. Refused calls get tag_budget_exceeded.</p>
<section class="card">
  <?cs if:subcount(Tags) == 0 ?>
  <p class="empty">No tag has a budget yet.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Tag</th><th>USD today</th><th>USD this month</th><th>Tokens today</th><th>Tokens this month</th><th>Over budget</th><th>Alerts at</th></tr></thead>
    <tbody>
    <?cs each:g = Tags ?>
    <tr><td><code><?cs var:g.Key ?>=<?cs var:g.Value ?></code></td>
      <td><?cs var:g.UsdDay ?><?cs if:g.L0 ?> of <?cs var:g.L0 ?><?cs /if ?></td>
      <td><?cs var:g.UsdMonth ?><?cs if:g.L1 ?> of <?cs var:g.L1 ?><?cs /if ?></td>
      <td><?cs var:g.TokDay ?><?cs if:g.L2 ?> of <?cs var:g.L2 ?><?cs /if ?></td>
      <td><?cs var:g.TokMonth ?><?cs if:g.L3 ?> of <?cs var:g.L3 ?><?cs /if ?></td>
      <td><?cs if:g.L4 ?><?cs var:g.L4 ?><?cs else ?><span class="muted">the tenant's</span><?cs /if ?></td>
      <td><?cs if:g.L5 ?><?cs var:g.L5 ?> %<?cs else ?><span class="muted">the tenant's</span><?cs /if ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <p class="sub">Spent and held in day <?cs var:Period.Day ?> and month <?cs var:Period.Month ?>, counted from when the tag got a budget.</p>
  <?cs /if ?>
</section>
<?cs if:User.Role != "support" ?>
<section class="card">
  <h2>Set a tag's budgets</h2>
  <p class="sub">Tag as KEY=VALUE. Every field is saved as given: an empty field removes that budget from the tag. USD as 12.50; tokens as whole numbers.</p>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/tags">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Tag <input name="tag" maxlength="200" value="<?cs var:Form.Tag ?>" placeholder="department=research"></label>
    <?cs each:f = Form ?>
    <label><?cs var:f.Name ?>
      <?cs if:f.IsEnum ?><select name="<?cs var:f.Name ?>"><option value=""<?cs if:!f.Value ?> selected<?cs /if ?>>the tenant's</option><option value="hard"<?cs if:f.Value == "hard" ?> selected<?cs /if ?>>hard</option><option value="soft"<?cs if:f.Value == "soft" ?> selected<?cs /if ?>>soft</option></select>
      <?cs else ?><input name="<?cs var:f.Name ?>" value="<?cs var:f.Value ?>" maxlength="24"><?cs /if ?></label>
    <?cs /each ?>
    <button type="submit" class="primary">Save tag budgets</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
