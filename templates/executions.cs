<?cs include:"header.cs" ?><?cs include:"picker.cs" ?>
<h1>Executions</h1>
<form class="toolbar" method="get" action="<?cs var:Prefix ?>/admin/executions">
  <?cs if:User.Role != "tenant_admin" ?><?cs call:tenant_picker(Form.TenantId) ?><?cs /if ?>
  <label>Agent <input name="agent" value="<?cs var:Form.Agent ?>" size="12"></label>
  <label>Model <input name="model" value="<?cs var:Form.Model ?>" size="12"></label>
  <label>Status <input name="status" value="<?cs var:Form.Status ?>" size="9"></label>
  <label>Reason <input name="reason_code" value="<?cs var:Form.ReasonCode ?>" size="12"></label>
  <label>From <input name="from" value="<?cs var:Form.From ?>" placeholder="YYYY-MM-DD" size="10"></label>
  <label>To <input name="to" value="<?cs var:Form.To ?>" placeholder="YYYY-MM-DD" size="10"></label>
  <button type="submit">Filter</button>
</form>
<?cs if:User.Role != "tenant_admin" && !Form.TenantId ?><p class="muted">All tenants: tenants whose data is in a database of their own (isolation dedicated) are listed when you choose the tenant.</p><?cs /if ?>
<?cs def:qs() ?><?cs if:Form.TenantId ?>&amp;tenant_id=<?cs var:url_escape(Form.TenantId) ?><?cs /if ?>&amp;agent=<?cs var:url_escape(Form.Agent) ?>&amp;model=<?cs var:url_escape(Form.Model) ?>&amp;status=<?cs var:url_escape(Form.Status) ?>&amp;reason_code=<?cs var:url_escape(Form.ReasonCode) ?>&amp;from=<?cs var:url_escape(Form.From) ?>&amp;to=<?cs var:url_escape(Form.To) ?><?cs /def ?>
<?cs if:!FormError ?>
<?cs if:subcount(Rows) == 0 ?>
<p class="empty">No executions match. Calls through the API appear here at once; clear the filters or widen the dates.</p>
<?cs else ?>
<section class="card">
<div class="table-wrap"><table class="grid">
  <thead><tr><th>Time</th><?cs if:User.Role != "tenant_admin" ?><th>Tenant</th><?cs /if ?><th>Kind</th><th>Agent</th><th>Model</th><th>Status</th><th>Reason</th><th class="r">Tokens</th><th class="r">Cost</th><th class="r">Latency (ms)</th></tr></thead>
  <tbody><?cs each:e = Rows ?><tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:e.TenantId ?>/executions/<?cs var:url_escape(e.Id) ?>"><?cs var:e.Created ?></a></td><?cs if:User.Role != "tenant_admin" ?><td><?cs var:e.Tenant ?></td><?cs /if ?><td><?cs var:e.Kind ?></td><td><?cs var:e.Agent ?></td><td><?cs var:e.Model ?></td><td><span class="badge <?cs var:e.Badge ?>"><?cs var:e.Status ?></span><?cs if:e.CacheHit ?> <span class="badge ok" title="answered from the response cache">cache hit</span><?cs /if ?></td><td><?cs var:e.ReasonCode ?></td><td class="r"><?cs var:e.Tokens ?></td><td class="r"><?cs var:e.Cost ?></td><td class="r"><?cs var:e.Latency ?></td></tr><?cs /each ?></tbody>
</table></div>
<nav class="pager"><?cs if:Pager.Paged ?><a href="<?cs var:Prefix ?>/admin/executions?before=0<?cs call:qs() ?>">Newest</a><?cs /if ?> <?cs if:Pager.Before ?><a href="<?cs var:Prefix ?>/admin/executions?before=<?cs var:Pager.Before ?><?cs call:qs() ?>">Older</a><?cs /if ?></nav>
</section>
<?cs /if ?>
<?cs /if ?>
<?cs include:"footer.cs" ?>
