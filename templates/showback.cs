<?cs include:"header.cs" ?><?cs include:"picker.cs" ?>
<?cs def:table(rows, what) ?><?cs if:subcount(rows) == 0 ?><p class="empty">Nothing this month.</p><?cs else ?><div class="table-wrap"><table class="grid">
  <thead><tr><th><?cs var:what ?></th><?cs if:User.Role != "tenant_admin" && !Form.TenantId && what == "Agent" ?><th class="r">Tenant</th><?cs /if ?><th class="r">Requests</th><th class="r" title="requests answered from the response cache, at no cost">Cache hits</th><th class="r">Tokens</th><th class="r">Cost</th></tr></thead>
  <tbody><?cs each:u = rows ?><tr><td><?cs var:u.Label ?></td><?cs if:User.Role != "tenant_admin" && !Form.TenantId && what == "Agent" ?><td class="r"><?cs var:u.TenantId ?></td><?cs /if ?><td class="r"><?cs var:u.Requests ?></td><td class="r"><?cs var:u.CacheHits ?></td><td class="r"><?cs var:u.Tokens ?></td><td class="r"><?cs var:u.Cost ?></td></tr><?cs /each ?></tbody>
</table></div><?cs /if ?><?cs /def ?>
<h1>Showback</h1>
<?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><p class="sub">All tenants: these sums are recomputed at most once a minute on each server.</p><?cs /if ?>
<form class="toolbar" method="get" action="<?cs var:Prefix ?>/admin/showback">
  <?cs if:User.Role != "tenant_admin" ?><?cs call:tenant_picker(Form.TenantId) ?><?cs /if ?>
  <label>Month <input name="month" value="<?cs var:Form.Month ?>" placeholder="YYYY-MM" size="7"></label>
  <button type="submit">Show</button>
  <?cs if:Form.TenantId && !FormError ?><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Form.TenantId ?>/invoice?month=<?cs var:url_escape(Form.Month) ?>">Invoice for this month</a><?cs /if ?>
</form>
<?cs if:!FormError ?>
<p class="sub">Costs of <?cs var:Period.From ?> – <?cs var:Period.To ?> (UTC): <strong id="showback-total"><?cs var:Totals.Cost ?></strong>. User and department come from the <code>metadata</code> of each run (<code>{"user": "…", "department": "…"}</code>).</p>
<?cs if:subcount(ByModel) == 0 ?>
<p class="empty">No usage this month. Send runs with metadata <code>user</code> and <code>department</code> to see costs per person and team.</p>
<?cs else ?>
<section class="card"><h2>By department</h2><?cs call:table(ByDepartment, "Department") ?><?cs if:More.ByDepartment ?><p class="sub">… and <?cs var:More.ByDepartment ?> more, each costing less (the top 100 are shown).</p><?cs /if ?></section>
<section class="card"><h2>By user</h2><?cs call:table(ByUser, "User") ?><?cs if:More.ByUser ?><p class="sub">… and <?cs var:More.ByUser ?> more, each costing less (the top 100 are shown).</p><?cs /if ?></section>
<section class="card"><h2>By agent</h2><?cs call:table(ByAgent, "Agent") ?><?cs if:More.ByAgent ?><p class="sub">… and <?cs var:More.ByAgent ?> more, each costing less (the top 100 are shown).</p><?cs /if ?></section>
<section class="card"><h2>By model</h2><?cs call:table(ByModel, "Model") ?><?cs if:More.ByModel ?><p class="sub">… and <?cs var:More.ByModel ?> more, each costing less (the top 100 are shown).</p><?cs /if ?></section>
<?cs /if ?>
<?cs /if ?>
<?cs include:"footer.cs" ?>
