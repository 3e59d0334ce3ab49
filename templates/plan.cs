<?cs include:"header.cs" ?>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/plans">Plans</a> /</p>
<h1>Plan <?cs var:Plan.Name ?></h1>
<?cs if:Plan.Description ?><p><?cs var:Plan.Description ?></p><?cs /if ?>
<p class="tenant-links"><a href="<?cs var:Prefix ?>/admin/plans/<?cs var:url_escape(Plan.Name) ?>/routes">Routes</a></p>
<section class="card">
  <h2>Limits</h2>
  <p class="sub">Leave a field empty to inherit the global value. Changes reach every tenant on this plan within a second.</p>
  <?cs include:"limits_form.cs" ?>
</section>
<?cs include:"footer.cs" ?>
