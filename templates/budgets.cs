<?cs include:"header.cs" ?><?cs include:"macros.cs" ?>
<h1>Budgets and limits <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="cards">
  <?cs each:w = Windows ?>
  <div class="card kpi"><h2><?cs var:w.Label ?></h2><p class="num"><?cs var:w.Spent ?></p>
    <?cs if:w.HasLimit ?><?cs call:bar(w.Pct) ?><p class="sub"><?cs var:w.Reserved ?> reserved · <?cs var:w.Remaining ?> left of <?cs var:w.Limit ?></p>
    <?cs else ?><p class="sub"><?cs var:w.Reserved ?> reserved · no limit</p><?cs /if ?></div>
  <?cs /each ?>
</section>
<p class="sub">Periods: day <?cs var:Period.Day ?>, month <?cs var:Period.Month ?>. Over budget: <?cs var:Enforcement ?> (hard refuses calls, soft allows them and writes an audit row).</p>
<section class="card">
  <h2>Effective limits</h2>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Limit</th><th>Value</th><th>Set at</th><th>Meaning</th></tr></thead>
    <tbody>
    <?cs each:l = Limits ?>
    <tr><td><code><?cs var:l.Name ?></code></td><td><?cs if:l.Unlimited ?><span class="muted">no limit</span><?cs else ?><?cs var:l.Value ?><?cs /if ?></td>
      <td><span class="badge"><?cs var:l.Source ?></span></td><td><small><?cs var:l.Help ?></small></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
</section>
<?cs if:User.Role != "support" ?>
<section class="card">
  <h2>Tenant budgets</h2>
  <p class="sub">Leave a field empty to use the plan's value. USD as 12.50; tokens as a whole number; 0 means no limit.<?cs if:User.Role == "tenant_admin" ?> You may set values up to what your plan allows.<?cs /if ?></p>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/budgets">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <?cs each:f = Form ?>
    <label><?cs var:f.Name ?> <small>(plan: <?cs if:f.PlanValue ?><?cs var:f.PlanValue ?><?cs else ?>none<?cs /if ?>)</small>
      <?cs if:f.IsEnum ?><select name="<?cs var:f.Name ?>"><option value=""<?cs if:!f.Value ?> selected<?cs /if ?>>plan's value</option><option value="hard"<?cs if:f.Value == "hard" ?> selected<?cs /if ?>>hard</option><option value="soft"<?cs if:f.Value == "soft" ?> selected<?cs /if ?>>soft</option></select>
      <?cs else ?><input name="<?cs var:f.Name ?>" value="<?cs var:f.Value ?>" placeholder="<?cs var:f.PlanValue ?>" maxlength="<?cs if:f.IsList ?>400<?cs else ?>24<?cs /if ?>"><?cs /if ?></label>
    <?cs /each ?>
    <button type="submit" class="primary">Save budgets</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
