<?cs include:"header.cs" ?><?cs include:"macros.cs" ?>
<?cs def:chart(c, title) ?><figure class="chart"><figcaption><?cs var:title ?> <small class="muted">max <?cs var:c.Max ?> per day</small></figcaption>
<svg class="bars" viewBox="0 -12 <?cs var:c.Width ?> 130" preserveAspectRatio="none" role="img" aria-label="<?cs var:title ?>">
<text class="axis" x="0" y="-3"><?cs var:c.Max ?></text>
<line class="axisline" x1="0" y1="100" x2="<?cs var:c.Width ?>" y2="100"></line>
<?cs each:b = c.Bars ?><rect class="bar" x="<?cs var:b.X ?>" y="<?cs var:b.Y ?>" width="8" height="<?cs var:b.H ?>"><title><?cs var:b.Day ?>: <?cs var:b.Value ?></title></rect><?cs /each ?>
<text class="axis" x="0" y="114"><?cs var:c.Bars.0.Day ?></text>
</svg></figure><?cs /def ?>
<?cs def:breakdown(rows, what) ?><table class="grid">
  <thead><tr><th><?cs var:what ?></th><?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><th class="r">Tenant</th><?cs /if ?><th class="r">Requests</th><th class="r">Errors</th><th class="r">Input tokens</th><th class="r">Output tokens</th><th class="r">Cost</th></tr></thead>
  <tbody><?cs each:u = rows ?><tr><td><?cs var:u.Label ?></td><?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><td class="r"><?cs if:u.TenantId ?><?cs var:u.TenantId ?><?cs /if ?></td><?cs /if ?><td class="r"><?cs var:u.Requests ?></td><td class="r"><?cs var:u.Errors ?></td><td class="r"><?cs var:u.Prompt ?></td><td class="r"><?cs var:u.Completion ?></td><td class="r"><?cs var:u.Cost ?></td></tr><?cs /each ?></tbody>
</table><?cs /def ?>
<h1>Usage</h1>
<?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><p class="sub">All tenants: these sums are recomputed at most once a minute on each server.</p><?cs /if ?>
<form class="toolbar" method="get" action="<?cs var:Prefix ?>/admin/usage">
  <?cs if:User.Role != "tenant_admin" ?><label>Tenant id <input name="tenant_id" inputmode="numeric" size="6" value="<?cs var:Form.TenantId ?>" placeholder="all"></label><?cs /if ?>
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
<section class="card"><?cs call:chart(CostChart, "Cost per day") ?><?cs call:chart(TokenChart, "Tokens per day") ?></section>
<section class="card"><h2>By model <small class="muted">top 50 by cost</small></h2><?cs call:breakdown(ByModel, "Model") ?></section>
<section class="card"><h2>By agent <small class="muted">top 50 by cost</small></h2><?cs call:breakdown(ByAgent, "Agent") ?></section>
<section class="card"><h2>By API key <small class="muted">top 50 by cost</small></h2><?cs call:breakdown(ByKey, "Key") ?></section>
<?cs /if ?>
<?cs /if ?>
<?cs include:"footer.cs" ?>
