<?cs include:"header.cs" ?><?cs include:"picker.cs" ?><?cs include:"macros.cs" ?><?cs include:"chart.cs" ?>
<?cs def:breakdown(rows, what) ?><div class="table-wrap"><table class="grid">
  <thead><tr><th><?cs var:what ?></th><?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><th class="r">Tenant</th><?cs /if ?><th class="r">Requests</th><th class="r">Errors</th><th class="r">Input tokens</th><th class="r">Output tokens</th><th class="r">Cost</th></tr></thead>
  <tbody><?cs each:u = rows ?><tr><td><?cs var:u.Label ?><?cs if:what == "Key" && u.Id ?> <small class="muted">id <?cs var:u.Id ?></small><?cs /if ?></td><?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><td class="r"><?cs if:u.TenantId ?><?cs var:u.TenantId ?><?cs /if ?></td><?cs /if ?><td class="r"><?cs var:u.Requests ?></td><td class="r"><?cs var:u.Errors ?></td><td class="r"><?cs var:u.Prompt ?></td><td class="r"><?cs var:u.Completion ?></td><td class="r"><?cs var:u.Cost ?></td></tr><?cs /each ?></tbody>
</table></div><?cs /def ?>
<h1>Usage</h1>
<?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><p class="sub">All tenants: these sums are recomputed at most once a minute on each server.</p><?cs /if ?>
<form class="toolbar" method="get" action="<?cs var:Prefix ?>/admin/usage">
  <?cs if:User.Role != "tenant_admin" ?><?cs call:tenant_picker(Form.TenantId) ?><?cs /if ?>
  <label>From <input name="from" value="<?cs var:Form.From ?>" placeholder="YYYY-MM-DD" size="10"></label>
  <label>To <input name="to" value="<?cs var:Form.To ?>" placeholder="YYYY-MM-DD" size="10"></label>
  <button type="submit">Show</button>
  <span class="presets">Last
  <a href="<?cs var:Prefix ?>/admin/usage?days=7<?cs if:Form.TenantId ?>&amp;tenant_id=<?cs var:url_escape(Form.TenantId) ?><?cs /if ?>"<?cs if:Form.Days == 7 ?> aria-current="true"<?cs /if ?>>7</a> ·
  <a href="<?cs var:Prefix ?>/admin/usage?days=30<?cs if:Form.TenantId ?>&amp;tenant_id=<?cs var:url_escape(Form.TenantId) ?><?cs /if ?>"<?cs if:Form.Days == 30 ?> aria-current="true"<?cs /if ?>>30</a> ·
  <a href="<?cs var:Prefix ?>/admin/usage?days=90<?cs if:Form.TenantId ?>&amp;tenant_id=<?cs var:url_escape(Form.TenantId) ?><?cs /if ?>"<?cs if:Form.Days == 90 ?> aria-current="true"<?cs /if ?>>90</a> days</span>
</form>
<?cs if:!FormError ?>
<section class="cards">
  <div class="card kpi"><h2>Cost</h2><p class="num" id="total-cost"><?cs var:Totals.Cost ?></p><p class="sub"><?cs var:Form.From ?> – <?cs var:Form.To ?></p></div>
  <div class="card kpi"><h2>Requests</h2><p class="num"><?cs var:Totals.Requests ?></p><p class="sub"><?cs var:Totals.Errors ?> errors</p></div>
  <div class="card kpi"><h2>Tokens</h2><p class="num"><?cs var:Totals.Tokens ?></p><p class="sub"><?cs var:Totals.Prompt ?> in · <?cs var:Totals.Completion ?> out</p></div>
</section>
<p><a href="<?cs var:Prefix ?>/admin/usage.csv?from=<?cs var:url_escape(Form.From) ?>&amp;to=<?cs var:url_escape(Form.To) ?><?cs if:Form.TenantId ?>&amp;tenant_id=<?cs var:url_escape(Form.TenantId) ?><?cs /if ?>" download>Download CSV</a> <small class="muted">one row per day × tenant × model × agent × key</small></p>
<?cs if:!Totals.Any ?>
<p class="empty">No usage in this period. Calls through the API show up here the same day; try a longer period<?cs if:User.Role == "operator" ?> or another tenant<?cs /if ?>.</p>
<?cs else ?>
<section class="card charts"><?cs call:chart(Charts.Spend) ?><?cs call:chart(Charts.Calls) ?><?cs call:chart(Charts.Tokens) ?></section>
<section class="card"><h2>By model <small class="muted">top 50 by cost</small></h2><?cs call:breakdown(ByModel, "Model") ?></section>
<section class="card"><h2>By agent <small class="muted">top 50 by cost</small></h2><?cs call:breakdown(ByAgent, "Agent") ?></section>
<section class="card"><h2>By API key <small class="muted">top 50 by cost</small></h2><?cs call:breakdown(ByKey, "Key") ?></section>
<?cs /if ?>
<?cs /if ?>
<?cs include:"footer.cs" ?>
